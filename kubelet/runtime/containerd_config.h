// The configuration of a containerd instance that Switchyard runs for itself: everything it
// writes (root, state, sockets, runc's state, CNI config and IP allocations) lives under one
// data dir, so several instances share a host without meeting, and removing the dir after
// runtime_cleanup removes the instance.
#pragma once

#include <chrono>
#include <filesystem>
#include <string>

#include "orchestrator/base/error.h"

namespace switchyard::kubelet::runtime {

struct ContainerdOptions {
  std::filesystem::path data_dir;  // absolute; created if missing
  std::string pod_cidr;            // the node's pod range(s), comma-separated, handed out by CNI host-local; empty: not known yet
  std::string sandbox_image = "switchyard.local/pause:1";
  std::string bridge_name = "sy-cni0";  // the CNI bridge in the node's network namespace
  std::string netns_path;               // empty: run in ours; else enter this network namespace
  std::string containerd_binary = "/usr/bin/containerd";
  std::string runc_binary = "/usr/sbin/runc";
  std::string cni_bin_dir = "/usr/lib/cni";
  std::chrono::milliseconds ready_timeout{std::chrono::seconds(30)};
};

// Where the instance keeps each thing, all under data_dir.
struct ContainerdPaths {
  explicit ContainerdPaths(const std::filesystem::path& data_dir);
  std::filesystem::path data_dir;
  std::filesystem::path config;  // config.toml, generated
  std::filesystem::path log;     // containerd's stdout and stderr
  std::filesystem::path root;    // images, snapshots, metadata
  std::filesystem::path state;   // sockets of tasks, the sandboxes' netns mounts
  std::filesystem::path socket;  // the gRPC (CRI and containerd API) socket
  std::filesystem::path ttrpc_socket;
  std::filesystem::path debug_socket;
  std::filesystem::path opt;
  std::filesystem::path runc_root;  // runc's state (per containerd namespace below it)
  std::filesystem::path cni_conf_dir;
  std::filesystem::path ipam_dir;  // host-local's allocations
  std::filesystem::path pod_logs;  // a place for the kubelet's pod log directories
};

// The containerd data dir of a node whose own data dir (`switchyard up --data-dir`) is given:
// `switchyard images import --data-dir` finds the socket through it.
inline std::filesystem::path node_containerd_dir(const std::filesystem::path& node_data_dir) { return node_data_dir / "containerd"; }

// containerd's config.toml (version 2) for these options.
std::string render_containerd_config(const ContainerdOptions& options);
// The CNI conflist: a bridge with host-local IPAM over pod_cidr (gateway .1, masquerade off:
// the node's dataplane owns NAT), then loopback.
std::string render_cni_conflist(const ContainerdOptions& options);
// Creates the directories and writes both files (the conflist only when pod_cidr is known).
Result<> write_containerd_files(const ContainerdOptions& options);
// (Re)writes the CNI conflist for options.pod_cidr; containerd picks it up from its conf dir.
Result<> write_cni_conflist(const ContainerdOptions& options);

}  // namespace switchyard::kubelet::runtime
