// The node agent's settings: kube-proxy's KubeProxyConfiguration file (the fields that apply to
// us) read first, command-line flags applied over it. A DaemonSet that ran kube-proxy can keep
// its ConfigMap.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "orchestrator/base/error.h"

namespace switchyard::node {

struct ConntrackSettings {
  // Unset: leave the kernel's value alone.
  std::optional<std::int64_t> max_per_core, min;
  std::optional<std::chrono::seconds> tcp_established_timeout, tcp_close_wait_timeout, udp_timeout, udp_stream_timeout;
};

struct AgentConfig {
  std::string node_name;
  std::string mode = "nftables";  // nftables | ebpf
  std::string kubeconfig;         // empty: in-cluster configuration

  std::string api_content_type = "json";  // json | protobuf: what the informers ask the API server for
  std::vector<std::string> cluster_cidrs;
  std::vector<std::string> node_port_addresses;
  std::chrono::milliseconds sync_period{std::chrono::seconds(30)};
  // kube-proxy defaults to 1 s, which protects its whole-table rewrites; a partial sync here
  // costs well under a millisecond, so a 10 ms floor still coalesces bursts (burst 2) without
  // holding a readiness change back (bench/readiness_traffic_bench).
  std::chrono::milliseconds min_sync_period{10};
  ConntrackSettings conntrack;
  std::string bind_address = "0.0.0.0";
  std::string healthz_bind_address = "0.0.0.0:10256";  // "" disables
  std::string metrics_bind_address = "127.0.0.1:10249";
  std::vector<std::string> dns_listen;  // none: no DNS server
  std::string cluster_domain = "cluster.local";
  // Names outside the cluster domain: these upstreams, else the nameservers of dns_resolv_conf
  // ("" with no upstreams: not forwarded, REFUSED).
  std::vector<std::string> dns_upstreams;
  std::string dns_resolv_conf = "/etc/resolv.conf";
  // Clients (CIDRs) whose queries for outside names are forwarded; none given: the cluster CIDRs,
  // the subnets of the node's own addresses and loopback, so the node's DNS is no open resolver.
  std::vector<std::string> dns_forward_clients;
  // CoreDNS's autopath for this node's pods (the agent then also watches its node's pods).
  bool dns_autopath = false;
  // Pod records (a-b-c-d.NS.pod.<zone>), as CoreDNS's `pods` option: disabled, insecure (the
  // Corefile kubeadm and k3s ship) or verified (a Pod with that IP in that namespace must exist;
  // the agent then also watches every Pod).
  std::string dns_pods = "insecure";
  std::string proxy_name;  // the service.kubernetes.io/service-proxy-name this agent answers to
  // eBPF mode: the cgroup whose sockets are load-balanced ("" = the cgroup v2 root), where maps
  // and links are pinned (under <bpf_root>/<node>), and the interfaces that get the tc programs
  // for NodePort, load-balancer and external IPs from outside (none: detected, as Cilium does:
  // the links carrying the node's addresses and default route, followed as they come and go).
  std::string cgroup_root;
  std::string bpf_root = "/sys/fs/bpf/switchyard";
  std::vector<std::string> external_interfaces;
  std::string ebpf_nodeport_mode = "tc";  // tc | xdp: where external traffic of tracked flows is DNATed
  // eBPF map sizes (dataplane/ebpf/map_sizing.h): the LRU maps' share of the machine's memory,
  // or explicit conntrack entries per map (0: from the share); the service maps' starting size
  // (they grow with the cluster).
  double ebpf_map_dynamic_size_ratio = 0.00025;
  std::uint32_t ebpf_ct_max = 0;
  std::uint32_t ebpf_lb_map_initial = 1024;
  // 127.0.0.1:NodePort from the node's own processes (eBPF socket hooks), as kube-proxy's
  // --iptables-localhost-nodeports (default true).
  bool ebpf_localhost_nodeports = true;
  // Answer ARP for the programmed LoadBalancer IPv4 addresses on the links whose subnet holds them
  // (node/arp_responder.h); `switchyard up` turns it on with --load-balancer-ip-pool.
  bool l2_announcements = false;
  // Fields of the file that kube-proxy knows and we do not use (iptables, ipvs, …): reported once.
  std::vector<std::string> ignored_fields;
};

// Reads a KubeProxyConfiguration (kubeproxy.config.k8s.io/v1alpha1) into `into`, over its
// current values. Fields unknown to kube-proxy are an error naming the field.
Result<void> read_kube_proxy_configuration(const std::string& path, AgentConfig& into);
Result<void> parse_kube_proxy_configuration(std::string_view yaml, AgentConfig& into);

// Go's time.ParseDuration: "30s", "1m0s", "1h30m", "500ms", "1.5s".
Result<std::chrono::milliseconds> parse_go_duration(std::string_view text);
// "ADDR:PORT", "[V6]:PORT", or an address alone (takes `default_port`) → {host, port}.
Result<std::pair<std::string, std::uint16_t>> split_host_port(const std::string& text, std::uint16_t default_port);

}  // namespace switchyard::node
