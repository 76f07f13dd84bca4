// Package deploy holds sfconnect's deployment material: the kustomize base
// and overlays (k8s/), the Grafana dashboard (grafana/) and the Prometheus
// alert rules (prometheus/), next to the repository's docker-compose.yml
// and Dockerfile. Docker and Kubernetes do not run on the team's machines,
// so this package's tests check the files instead: they build every
// overlay and decode it strictly, parse the compose file strictly, and
// compare every configuration variable and metric name the files use with
// what the sfconnect binary actually reads and exports.
package deploy
