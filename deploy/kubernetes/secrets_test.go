package kubernetes

import (
	"os"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// secretEnv are the variables that carry secrets; each must come from a
// Secret, never from a literal value or a flag.
var secretEnv = map[string]string{
	"ORGSTREAM_JWT_SECRET":              "--jwt-secret",
	"ORGSTREAM_CLUSTER_SECRET":          "--cluster-secret",
	"ORGSTREAM_NATS_PUBLISHER_PASSWORD": "--nats-publisher-password",
}

// TestSecretsComeFromSecrets: the StatefulSet takes each secret from a key
// that secret.example.yaml shows, the example holds placeholders only, and
// no secret is on the command line (ps and the pod spec show it).
func TestSecretsComeFromSecrets(t *testing.T) {
	b, err := os.ReadFile(secretExampleFile)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := decodeAll(secretExampleFile, b)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]map[string]bool{} // Secret name → its keys
	for _, o := range objs {
		s, ok := o.(*corev1.Secret)
		if !ok {
			t.Fatalf("%s holds a %T, want Secrets only", secretExampleFile, o)
		}
		keys[s.Name] = map[string]bool{}
		for k, v := range s.StringData {
			keys[s.Name][k] = true
			if k != "username" && !strings.HasPrefix(v, "REPLACE_WITH_") {
				t.Errorf("%s: Secret %s key %s is not a placeholder", secretExampleFile, s.Name, k)
			}
		}
		if len(s.Data) > 0 {
			t.Errorf("%s: Secret %s has data; use placeholders in stringData", secretExampleFile, s.Name)
		}
	}

	var sets []*appsv1.StatefulSet
	for _, o := range rendered(t) {
		if s, ok := o.(*appsv1.StatefulSet); ok {
			sets = append(sets, s)
		}
	}
	if len(sets) != 1 {
		t.Fatalf("%d StatefulSets rendered, want 1", len(sets))
	}
	containers := sets[0].Spec.Template.Spec.Containers
	if len(containers) != 1 {
		t.Fatalf("%d containers, want 1", len(containers))
	}
	c := containers[0]
	clustered := false
	for _, arg := range append(append([]string{}, c.Command...), c.Args...) {
		if !strings.HasPrefix(arg, "-") {
			continue
		}
		// -name, --name, --name=value, as Go's flag package reads them.
		name, _, _ := strings.Cut(strings.TrimLeft(arg, "-"), "=")
		if name == "cluster-listen" {
			clustered = true
		}
		for _, flag := range secretEnv {
			if name == strings.TrimLeft(flag, "-") {
				t.Errorf("the command line sets %s: it shows in ps and in the pod spec", flag)
			}
		}
	}
	if !clustered {
		t.Error("no --cluster-listen: the pods do not form a cluster (and the cluster secret guards nothing)")
	}
	if len(c.EnvFrom) > 0 {
		t.Error("envFrom: every variable must be named, so that a Secret cannot set flags unseen")
	}
	seen := map[string]bool{}
	for _, e := range c.Env {
		if _, ok := secretEnv[e.Name]; !ok {
			continue
		}
		seen[e.Name] = true
		var ref *corev1.SecretKeySelector
		if e.ValueFrom != nil {
			ref = e.ValueFrom.SecretKeyRef
		}
		switch {
		case e.Value != "" || ref == nil:
			t.Errorf("%s is not taken from a Secret", e.Name)
		case ref.Optional != nil && *ref.Optional:
			t.Errorf("%s: the Secret key is optional; a pod without it would start with a generated, unshared value", e.Name)
		case !keys[ref.Name][ref.Key]:
			t.Errorf("%s comes from Secret %s key %s, which %s does not show", e.Name, ref.Name, ref.Key, secretExampleFile)
		}
	}
	for name := range secretEnv {
		if !seen[name] {
			t.Errorf("the container has no %s", name)
		}
	}
}
