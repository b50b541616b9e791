package kubernetes

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// Files of this directory that kustomization.yaml does not list on
// purpose.
const (
	kustomizationFile = "kustomization.yaml"
	// secretExampleFile holds placeholders; it must never be deployed.
	secretExampleFile = "secret.example.yaml"
)

// decoder decodes YAML or JSON into the API types of the kinds the
// manifests use, strictly: an unknown field, a duplicated field or an
// unregistered kind is an error.
var decoder = func() runtime.Decoder {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		corev1.AddToScheme, appsv1.AddToScheme, policyv1.AddToScheme, networkingv1.AddToScheme,
	} {
		if err := add(s); err != nil {
			panic(err)
		}
	}
	return serializer.NewCodecFactory(s, serializer.EnableStrict).UniversalDeserializer()
}()

// decodeAll decodes every document of a multi-document YAML stream.
// Documents that hold only comments are skipped.
func decodeAll(name string, data []byte) ([]runtime.Object, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var objs []runtime.Object
	for i := 0; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", name, i, err)
		}
		js, err := yaml.YAMLToJSONStrict(doc)
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", name, i, err)
		}
		if s := strings.TrimSpace(string(js)); s == "null" || s == "" {
			continue
		}
		obj, _, err := decoder.Decode(doc, nil, nil)
		if err != nil {
			return nil, fmt.Errorf("%s: document %d: %w", name, i, err)
		}
		objs = append(objs, obj)
	}
}

// kustomization is the part of kustomization.yaml the tests read.
type kustomization struct {
	Resources []string `json:"resources"`
}

func readKustomization(t *testing.T) kustomization {
	t.Helper()
	b, err := os.ReadFile(kustomizationFile)
	if err != nil {
		t.Fatal(err)
	}
	var k kustomization
	if err := yaml.Unmarshal(b, &k); err != nil {
		t.Fatalf("%s: %v", kustomizationFile, err)
	}
	if len(k.Resources) == 0 {
		t.Fatalf("%s lists no resources", kustomizationFile)
	}
	return k
}

// manifestFiles are the YAML files of this directory, sorted.
func manifestFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	yml, err := filepath.Glob("*.yml")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, yml...)
	sort.Strings(files)
	return files
}

// rendered returns the objects `kubectl apply -k` would apply: the output
// of `kubectl kustomize` when kubectl is on the PATH, else the files the
// kustomization lists (without its image and namespace rewrites, which the
// checks do not depend on).
func rendered(t *testing.T) []runtime.Object {
	t.Helper()
	if kubectl, err := exec.LookPath("kubectl"); err == nil {
		cmd := exec.Command(kubectl, "kustomize", ".")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("kubectl kustomize: %v: %s", err, bytes.TrimSpace(stderr.Bytes()))
		}
		objs, err := decodeAll("kubectl kustomize output", out)
		if err != nil {
			t.Fatal(err)
		}
		return objs
	}
	t.Log("kubectl is not on the PATH: reading the files kustomization.yaml lists")
	var objs []runtime.Object
	for _, f := range readKustomization(t).Resources {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		o, err := decodeAll(f, b)
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, o...)
	}
	return objs
}

// TestManifestsDecodeStrictly decodes every YAML file of the directory, the
// example Secret included, and checks that the kustomization lists each
// manifest but the example.
func TestManifestsDecodeStrictly(t *testing.T) {
	files := manifestFiles(t)
	listed := readKustomization(t).Resources
	for _, f := range files {
		if f == kustomizationFile {
			continue
		}
		t.Run(f, func(t *testing.T) {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			objs, err := decodeAll(f, b)
			if err != nil {
				t.Fatal(err)
			}
			if len(objs) == 0 {
				t.Fatal("no object in the file")
			}
			switch in := slices.Contains(listed, f); {
			case f == secretExampleFile && in:
				t.Errorf("%s lists %s: its placeholders would be deployed", kustomizationFile, f)
			case f != secretExampleFile && !in:
				t.Errorf("%s does not list %s", kustomizationFile, f)
			}
		})
	}
	for _, f := range listed {
		if !slices.Contains(files, f) {
			t.Errorf("%s lists %s, which is not a YAML file of this directory", kustomizationFile, f)
		}
	}
}

// TestDecoderIsStrict makes sure the decoder refuses what strict decoding
// promises to refuse, so that the other tests cannot pass by accident.
func TestDecoderIsStrict(t *testing.T) {
	cases := []struct{ name, doc string }{
		{"unknown field", "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {clusterIp: None}\n"},
		{"duplicate field", "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nmetadata: {name: y}\n"},
		{"unknown kind", "apiVersion: v1\nkind: Servce\nmetadata: {name: x}\n"},
		{"wrong type", "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: x}\nspec: {policyTypes: Ingress}\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := decodeAll(tc.name, []byte(tc.doc)); err == nil {
				t.Fatal("decoded without an error")
			}
		})
	}
	objs, err := decodeAll("valid", []byte("# a comment-only document\n---\napiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {clusterIP: None}\n"))
	if err != nil || len(objs) != 1 {
		t.Fatalf("a valid Service: %d objects, %v", len(objs), err)
	}
}

// TestKustomizationRenders checks that the rendered objects hold one of
// each kind the deployment needs.
func TestKustomizationRenders(t *testing.T) {
	count := map[string]int{}
	for _, o := range rendered(t) {
		count[kindOf(o)]++
	}
	want := map[string]int{"Service": 2, "StatefulSet": 1, "PodDisruptionBudget": 1, "NetworkPolicy": 1, "Secret": 0}
	for kind, n := range want {
		if count[kind] != n {
			t.Errorf("%d %s objects rendered, want %d (all: %v)", count[kind], kind, n, count)
		}
	}
}

func kindOf(o runtime.Object) string {
	switch o.(type) {
	case *corev1.Service:
		return "Service"
	case *corev1.Secret:
		return "Secret"
	case *appsv1.StatefulSet:
		return "StatefulSet"
	case *policyv1.PodDisruptionBudget:
		return "PodDisruptionBudget"
	case *networkingv1.NetworkPolicy:
		return "NetworkPolicy"
	}
	return fmt.Sprintf("%T", o)
}
