// Package kubernetes holds the Kubernetes manifests of orgstream (apply
// them with `kubectl apply -k deploy/kubernetes`); it has no Go code.
//
// Its tests render the kustomization with `kubectl kustomize` when kubectl
// is on the PATH (otherwise they read the files the kustomization lists),
// decode every object strictly into the Kubernetes API types (an unknown or
// duplicated field is an error), and check what docs/SECURITY.md promises
// of them: the NetworkPolicy admits the NATS route port only from the
// StatefulSet's own pods and the NATS client port only from pods labelled
// as publishers, and the secrets reach the pods from Secrets, never from
// the command line.
package kubernetes
