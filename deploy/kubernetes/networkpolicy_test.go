package kubernetes

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// The ports of an orgstream pod and the label of the pods that may publish
// over NATS (docs/SECURITY.md, "Trust boundaries").
const (
	publicPort     = 8080 // HTTP + WebSocket: the public API
	natsClientPort = 4222 // NATS client: publishers only
	routePort      = 6222 // NATS routes: the StatefulSet's own pods only
	publisherLabel = "orgstream.io/nats-publisher"
)

// target is what the policy checks need of the StatefulSet.
type target struct {
	name     string
	selector map[string]string // spec.selector.matchLabels
	labels   labels.Set        // the pod template's labels
	ports    []int32           // TCP container ports
	names    map[string]int32  // TCP container port name → number
}

func targetOf(sts *appsv1.StatefulSet) (target, []string) {
	var problems []string
	tg := target{
		name:   sts.Name,
		labels: labels.Set(sts.Spec.Template.Labels),
		names:  map[string]int32{},
	}
	if sts.Spec.Selector != nil {
		tg.selector = sts.Spec.Selector.MatchLabels
	}
	if len(tg.selector) == 0 {
		problems = append(problems, "the StatefulSet's selector has no matchLabels")
	}
	pod := sts.Spec.Template.Spec
	if pod.HostNetwork {
		problems = append(problems, "hostNetwork: a NetworkPolicy does not guard the host's ports")
	}
	for _, c := range pod.Containers {
		for _, p := range c.Ports {
			if p.HostPort != 0 {
				problems = append(problems, fmt.Sprintf("container port %d has hostPort %d, which a NetworkPolicy may not guard", p.ContainerPort, p.HostPort))
			}
			if p.Protocol != "" && p.Protocol != corev1.ProtocolTCP {
				continue
			}
			tg.ports = append(tg.ports, p.ContainerPort)
			if p.Name != "" {
				tg.names[p.Name] = p.ContainerPort
			}
		}
	}
	return tg, problems
}

// admission says who may reach one TCP port of the target's pods.
type admission struct {
	anyone bool                             // no policy isolates it, or a rule admits every source
	peers  []networkingv1.NetworkPolicyPeer // the peers admitted otherwise
}

// admitted applies Kubernetes' semantics: policies are additive; a pod is
// isolated for ingress once a policy whose policyTypes include Ingress
// selects it; a rule without ports covers every port, a rule without from
// admits every source.
func admitted(policies []*networkingv1.NetworkPolicy, tg target, port int32) (admission, error) {
	var a admission
	isolated := false
	for _, p := range policies {
		sel, err := metav1.LabelSelectorAsSelector(&p.Spec.PodSelector)
		if err != nil {
			return a, fmt.Errorf("NetworkPolicy %s: %w", p.Name, err)
		}
		if !sel.Matches(tg.labels) || !hasIngressType(p) {
			continue
		}
		isolated = true
		for _, rule := range p.Spec.Ingress {
			if !rulePortsCover(rule.Ports, port, tg.names) {
				continue
			}
			if len(rule.From) == 0 {
				a.anyone = true
			}
			a.peers = append(a.peers, rule.From...)
		}
	}
	if !isolated {
		a.anyone = true
	}
	return a, nil
}

// hasIngressType: policyTypes, or when it is empty, Ingress (the API's
// default).
func hasIngressType(p *networkingv1.NetworkPolicy) bool {
	return len(p.Spec.PolicyTypes) == 0 || slices.Contains(p.Spec.PolicyTypes, networkingv1.PolicyTypeIngress)
}

func rulePortsCover(ports []networkingv1.NetworkPolicyPort, port int32, names map[string]int32) bool {
	if len(ports) == 0 {
		return true
	}
	for _, pp := range ports {
		if pp.Protocol != nil && *pp.Protocol != corev1.ProtocolTCP {
			continue
		}
		switch {
		case pp.Port == nil:
			return true
		case pp.Port.Type == intstr.String:
			if n, ok := names[pp.Port.StrVal]; ok && n == port {
				return true
			}
		case pp.EndPort != nil:
			if pp.Port.IntVal <= port && port <= *pp.EndPort {
				return true
			}
		case pp.Port.IntVal == port:
			return true
		}
	}
	return false
}

// checkPolicies lists every way in which the rendered objects let the NATS
// ports be reached by more than SECURITY.md allows; none means they hold.
func checkPolicies(objs []runtime.Object) []string {
	var (
		sets     []*appsv1.StatefulSet
		policies []*networkingv1.NetworkPolicy
		problems []string
	)
	for _, o := range objs {
		switch v := o.(type) {
		case *appsv1.StatefulSet:
			sets = append(sets, v)
		case *networkingv1.NetworkPolicy:
			policies = append(policies, v)
		}
	}
	if len(sets) != 1 {
		return []string{fmt.Sprintf("%d StatefulSets rendered, want 1", len(sets))}
	}
	tg, problems := targetOf(sets[0])
	for _, want := range []int32{publicPort, natsClientPort, routePort} {
		if !slices.Contains(tg.ports, want) {
			problems = append(problems, fmt.Sprintf("the StatefulSet declares no TCP container port %d", want))
		}
	}
	for _, port := range tg.ports {
		a, err := admitted(policies, tg, port)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		switch port {
		case publicPort:
			if !a.anyone && len(a.peers) == 0 {
				problems = append(problems, fmt.Sprintf("port %d (the public API) admits no one", port))
			}
		case routePort:
			problems = append(problems, checkRoutePeers(a, tg)...)
		case natsClientPort:
			problems = append(problems, checkPublisherPeers(a)...)
		default:
			if a.anyone {
				problems = append(problems, fmt.Sprintf("port %d is open to every source; only %d may be", port, publicPort))
			}
		}
	}
	return problems
}

// checkRoutePeers: 6222 only from pods of this namespace that the
// StatefulSet's own selector selects, and from at least those.
func checkRoutePeers(a admission, tg target) []string {
	if a.anyone {
		return []string{fmt.Sprintf("port %d (routes) is open to every source", routePort)}
	}
	if len(a.peers) == 0 {
		return []string{fmt.Sprintf("port %d (routes) admits no one: the pods cannot form a cluster", routePort)}
	}
	var problems []string
	for _, peer := range a.peers {
		desc := describePeer(peer)
		switch {
		case peer.IPBlock != nil:
			problems = append(problems, fmt.Sprintf("port %d (routes) admits %s", routePort, desc))
		case peer.NamespaceSelector != nil:
			problems = append(problems, fmt.Sprintf("port %d (routes) admits pods of other namespaces: %s", routePort, desc))
		case peer.PodSelector == nil || !narrowerThan(peer.PodSelector, tg.selector):
			problems = append(problems, fmt.Sprintf("port %d (routes) admits pods the StatefulSet %s does not select: %s", routePort, tg.name, desc))
		default:
			sel, err := metav1.LabelSelectorAsSelector(peer.PodSelector)
			if err != nil || !sel.Matches(tg.labels) {
				problems = append(problems, fmt.Sprintf("port %d (routes): peer %s does not select the StatefulSet's pods", routePort, desc))
			}
		}
	}
	return problems
}

// checkPublisherPeers: 4222 only from pods of this namespace labelled as
// publishers.
func checkPublisherPeers(a admission) []string {
	if a.anyone {
		return []string{fmt.Sprintf("port %d (NATS client) is open to every source", natsClientPort)}
	}
	if len(a.peers) == 0 {
		return []string{fmt.Sprintf("port %d (NATS client) admits no one: publishers cannot reach it", natsClientPort)}
	}
	var problems []string
	for _, peer := range a.peers {
		desc := describePeer(peer)
		switch {
		case peer.IPBlock != nil:
			problems = append(problems, fmt.Sprintf("port %d (NATS client) admits %s", natsClientPort, desc))
		case peer.NamespaceSelector != nil:
			problems = append(problems, fmt.Sprintf("port %d (NATS client) admits pods of other namespaces: %s", natsClientPort, desc))
		case peer.PodSelector == nil || peer.PodSelector.MatchLabels[publisherLabel] != "true":
			problems = append(problems, fmt.Sprintf("port %d (NATS client) admits pods without %s: \"true\": %s", natsClientPort, publisherLabel, desc))
		}
	}
	return problems
}

// narrowerThan reports whether sel requires every label of want (so it
// selects a subset of what want selects).
func narrowerThan(sel *metav1.LabelSelector, want map[string]string) bool {
	if len(want) == 0 {
		return false
	}
	for k, v := range want {
		if sel.MatchLabels[k] != v {
			return false
		}
	}
	return true
}

func describePeer(p networkingv1.NetworkPolicyPeer) string {
	var parts []string
	if p.IPBlock != nil {
		parts = append(parts, "ipBlock "+p.IPBlock.CIDR)
	}
	if p.NamespaceSelector != nil {
		parts = append(parts, "namespaceSelector "+metav1.FormatLabelSelector(p.NamespaceSelector))
	}
	if p.PodSelector != nil {
		parts = append(parts, "podSelector "+metav1.FormatLabelSelector(p.PodSelector))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// TestNetworkPolicy checks the rendered manifests: 6222 only from the
// StatefulSet's pods, 4222 only from labelled publishers of the namespace,
// 8080 open, nothing else open to everyone.
func TestNetworkPolicy(t *testing.T) {
	for _, p := range checkPolicies(rendered(t)) {
		t.Error(p)
	}
}

// TestNetworkPolicyCheckFails opens the ports in each way a careless edit
// could, and expects checkPolicies to say so; and makes harmless edits,
// which it must accept.
func TestNetworkPolicyCheckFails(t *testing.T) {
	base := rendered(t)
	if problems := checkPolicies(base); len(problems) > 0 {
		t.Fatalf("the rendered manifests already fail: %v", problems)
	}
	tcp, udp := corev1.ProtocolTCP, corev1.ProtocolUDP
	port := func(p intstr.IntOrString) networkingv1.NetworkPolicyPort {
		return networkingv1.NetworkPolicyPort{Protocol: &tcp, Port: &p}
	}
	ruleFor := func(np *networkingv1.NetworkPolicy, p int32) *networkingv1.NetworkPolicyIngressRule {
		for i, r := range np.Spec.Ingress {
			for _, pp := range r.Ports {
				if pp.Port != nil && pp.Port.IntVal == p {
					return &np.Spec.Ingress[i]
				}
			}
		}
		t.Fatalf("no rule for port %d in the rendered policy", p)
		return nil
	}
	end := int32(5000)
	cases := []struct {
		name   string
		edit   func(np *networkingv1.NetworkPolicy) []runtime.Object // extra objects, if any
		expect string                                                // a substring of a problem; "" = none
	}{
		{"unchanged", func(*networkingv1.NetworkPolicy) []runtime.Object { return nil }, ""},
		{"routes from anywhere", func(np *networkingv1.NetworkPolicy) []runtime.Object {
			ruleFor(np, routePort).From = nil
			return nil
		}, "port 6222 (routes) is open to every source"},
		{"routes from every pod", func(np *networkingv1.NetworkPolicy) []runtime.Object {
			ruleFor(np, routePort).From[0].PodSelector = &metav1.LabelSelector{}
			return nil
		}, "does not select"},
		{"routes from other namespaces", func(np *networkingv1.NetworkPolicy) []runtime.Object {
			ruleFor(np, routePort).From[0].NamespaceSelector = &metav1.LabelSelector{}
			return nil
		}, "port 6222 (routes) admits pods of other namespaces"},
		{"routes closed", func(np *networkingv1.NetworkPolicy) []runtime.Object {
			ruleFor(np, routePort).From[0].PodSelector = &metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/name": "orgstream", "x": "y"}}
			return nil
		}, "does not select the StatefulSet's pods"},
		{"NATS from anywhere", func(np *networkingv1.NetworkPolicy) []runtime.Object {
			ruleFor(np, natsClientPort).From = nil
			return nil
		}, "port 4222 (NATS client) is open to every source"},
		{"NATS from an ipBlock", func(np *networkingv1.NetworkPolicy) []runtime.Object {
			r := ruleFor(np, natsClientPort)
			r.From = append(r.From, networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: "0.0.0.0/0"}})
			return nil
		}, "port 4222 (NATS client) admits {ipBlock 0.0.0.0/0}"},
		{"NATS from labelled pods of every namespace", func(np *networkingv1.NetworkPolicy) []runtime.Object {
			ruleFor(np, natsClientPort).From[0].NamespaceSelector = &metav1.LabelSelector{}
			return nil
		}, "port 4222 (NATS client) admits pods of other namespaces"},
		{"NATS from unlabelled pods", func(np *networkingv1.NetworkPolicy) []runtime.Object {
			ruleFor(np, natsClientPort).From[0].PodSelector = &metav1.LabelSelector{}
			return nil
		}, "admits pods without orgstream.io/nats-publisher"},
		{"a rule without ports", func(np *networkingv1.NetworkPolicy) []runtime.Object {
			np.Spec.Ingress = append(np.Spec.Ingress, networkingv1.NetworkPolicyIngressRule{
				From: []networkingv1.NetworkPolicyPeer{{PodSelector: &metav1.LabelSelector{}}},
			})
			return nil
		}, "admits pods without orgstream.io/nats-publisher"},
		{"a port range over 4222", func(np *networkingv1.NetworkPolicy) []runtime.Object {
			p := port(intstr.FromInt32(4000))
			p.EndPort = &end
			np.Spec.Ingress = append(np.Spec.Ingress, networkingv1.NetworkPolicyIngressRule{Ports: []networkingv1.NetworkPolicyPort{p}})
			return nil
		}, "port 4222 (NATS client) is open to every source"},
		{"a named port", func(np *networkingv1.NetworkPolicy) []runtime.Object {
			np.Spec.Ingress = append(np.Spec.Ingress, networkingv1.NetworkPolicyIngressRule{
				Ports: []networkingv1.NetworkPolicyPort{port(intstr.FromString("cluster"))},
			})
			return nil
		}, "port 6222 (routes) is open to every source"},
		{"UDP on the NATS ports is another port", func(np *networkingv1.NetworkPolicy) []runtime.Object {
			p := intstr.FromInt32(natsClientPort)
			q := intstr.FromInt32(routePort)
			np.Spec.Ingress = append(np.Spec.Ingress, networkingv1.NetworkPolicyIngressRule{
				Ports: []networkingv1.NetworkPolicyPort{{Protocol: &udp, Port: &p}, {Protocol: &udp, Port: &q}},
			})
			return nil
		}, ""},
		{"egress only", func(np *networkingv1.NetworkPolicy) []runtime.Object {
			np.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}
			return nil
		}, "is open to every source"},
		{"the policy selects other pods", func(np *networkingv1.NetworkPolicy) []runtime.Object {
			np.Spec.PodSelector = metav1.LabelSelector{MatchLabels: map[string]string{"app.kubernetes.io/name": "other"}}
			return nil
		}, "is open to every source"},
		{"a second policy opens 4222", func(np *networkingv1.NetworkPolicy) []runtime.Object {
			extra := np.DeepCopy()
			extra.Name = "allow-nats"
			extra.Spec.Ingress = []networkingv1.NetworkPolicyIngressRule{{Ports: []networkingv1.NetworkPolicyPort{port(intstr.FromInt32(natsClientPort))}}}
			return []runtime.Object{extra}
		}, "port 4222 (NATS client) is open to every source"},
		{"a second policy narrows nothing", func(np *networkingv1.NetworkPolicy) []runtime.Object {
			extra := np.DeepCopy()
			extra.Name = "deny-all"
			extra.Spec.Ingress = nil
			return []runtime.Object{extra}
		}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var objs []runtime.Object
			var np *networkingv1.NetworkPolicy
			for _, o := range base {
				o = o.DeepCopyObject()
				if p, ok := o.(*networkingv1.NetworkPolicy); ok {
					np = p
				}
				objs = append(objs, o)
			}
			if np == nil {
				t.Fatal("no NetworkPolicy rendered")
			}
			objs = append(objs, tc.edit(np)...)
			problems := checkPolicies(objs)
			if tc.expect == "" {
				if len(problems) > 0 {
					t.Fatalf("a harmless edit was refused: %v", problems)
				}
				return
			}
			for _, p := range problems {
				if strings.Contains(p, tc.expect) {
					return
				}
			}
			t.Fatalf("no problem mentions %q; got %v", tc.expect, problems)
		})
	}
}
