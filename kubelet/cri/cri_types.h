// Plain C++ mirrors of the CRI v1 messages the kubelet uses (kubelet/cri/api.proto). They keep
// the generated protobuf and gRPC headers out of everything that includes the client, so the
// rest of the build does not pay for them. Field names follow CRI's; times are nanoseconds
// since the epoch, as CRI sends them.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace switchyard::kubelet::cri {

using Labels = std::map<std::string, std::string>;

struct VersionInfo {
  std::string version;  // the CRI API version the runtime speaks ("0.1.0")
  std::string runtime_name;
  std::string runtime_version;
  std::string runtime_api_version;  // "v1"
};

struct RuntimeCondition {
  std::string type;  // "RuntimeReady", "NetworkReady"
  bool status = false;
  std::string reason;
  std::string message;
};

struct RuntimeStatus {
  std::vector<RuntimeCondition> conditions;
  // The named condition's status; false when the runtime does not report it.
  bool condition(const std::string& type) const;
};

enum class NamespaceMode { Pod = 0, Container = 1, Node = 2, Target = 3 };

struct NamespaceOptions {
  NamespaceMode network = NamespaceMode::Pod;
  NamespaceMode pid = NamespaceMode::Container;  // Kubernetes' default: one PID namespace per container
  NamespaceMode ipc = NamespaceMode::Pod;
  std::string target_id;
};

enum class Protocol { Tcp = 0, Udp = 1, Sctp = 2 };

struct PortMapping {
  Protocol protocol = Protocol::Tcp;
  int32_t container_port = 0;
  int32_t host_port = 0;
  std::string host_ip;
};

struct DnsConfig {
  std::vector<std::string> servers;
  std::vector<std::string> searches;
  std::vector<std::string> options;
};

struct PodSandboxMetadata {
  std::string name;
  std::string uid;
  std::string namespace_;
  uint32_t attempt = 0;
};

struct PodSandboxConfig {
  PodSandboxMetadata metadata;
  std::string hostname;
  std::string log_directory;  // container log_path values are relative to this
  std::optional<DnsConfig> dns_config;
  std::vector<PortMapping> port_mappings;
  Labels labels;
  Labels annotations;
  // linux
  std::string cgroup_parent;
  NamespaceOptions namespace_options;
  std::optional<int64_t> run_as_user;
  std::optional<int64_t> run_as_group;
  std::vector<int64_t> supplemental_groups;
  bool privileged = false;
  bool readonly_rootfs = false;
  std::map<std::string, std::string> sysctls;
};

enum class SandboxState { Ready = 0, NotReady = 1 };

struct PodSandbox {  // an item of ListPodSandbox
  std::string id;
  PodSandboxMetadata metadata;
  SandboxState state = SandboxState::NotReady;
  int64_t created_at = 0;
  Labels labels;
  Labels annotations;
  std::string runtime_handler;
};

struct PodSandboxStatus {
  std::string id;
  PodSandboxMetadata metadata;
  SandboxState state = SandboxState::NotReady;
  int64_t created_at = 0;
  std::string ip;  // empty for host-network sandboxes
  std::vector<std::string> additional_ips;
  std::optional<NamespaceOptions> namespace_options;
  Labels labels;
  Labels annotations;
  std::string runtime_handler;
};

struct PodSandboxFilter {
  std::string id;
  std::optional<SandboxState> state;
  Labels label_selector;
};

struct ContainerMetadata {
  std::string name;
  uint32_t attempt = 0;
};

enum class MountPropagation { Private = 0, HostToContainer = 1, Bidirectional = 2 };

struct Mount {
  std::string container_path;
  std::string host_path;
  bool readonly = false;
  bool selinux_relabel = false;
  MountPropagation propagation = MountPropagation::Private;
};

struct LinuxResources {
  int64_t cpu_period = 0;
  int64_t cpu_quota = 0;
  int64_t cpu_shares = 0;
  int64_t memory_limit_in_bytes = 0;
  int64_t oom_score_adj = 0;
  std::string cpuset_cpus;
  std::string cpuset_mems;
};

struct ContainerConfig {
  ContainerMetadata metadata;
  std::string image;
  std::vector<std::string> command;  // replaces the image's entrypoint when not empty
  std::vector<std::string> args;     // replaces the image's cmd when not empty
  std::string working_dir;
  std::vector<std::pair<std::string, std::string>> envs;
  std::vector<Mount> mounts;
  Labels labels;
  Labels annotations;
  std::string log_path;  // relative to the sandbox's log_directory
  bool stdin = false;
  bool stdin_once = false;
  bool tty = false;
  // linux
  std::optional<LinuxResources> resources;
  bool privileged = false;
  NamespaceOptions namespace_options;
  std::optional<int64_t> run_as_user;
  std::optional<int64_t> run_as_group;
  std::vector<int64_t> supplemental_groups;  // the pod's supplementalGroups and fsGroup
  std::string run_as_username;
  bool readonly_rootfs = false;
  bool no_new_privs = false;
  std::vector<std::string> add_capabilities;
  std::vector<std::string> drop_capabilities;
};

enum class ContainerState { Created = 0, Running = 1, Exited = 2, Unknown = 3 };

struct Container {  // an item of ListContainers
  std::string id;
  std::string pod_sandbox_id;
  ContainerMetadata metadata;
  std::string image;
  std::string image_ref;
  ContainerState state = ContainerState::Unknown;
  int64_t created_at = 0;
  Labels labels;
  Labels annotations;
};

struct ContainerStatus {
  std::string id;
  ContainerMetadata metadata;
  ContainerState state = ContainerState::Unknown;
  int64_t created_at = 0;
  int64_t started_at = 0;
  int64_t finished_at = 0;
  int32_t exit_code = 0;
  std::string image;
  std::string image_ref;
  std::string reason;  // "Completed", "Error", "OOMKilled"
  std::string message;
  Labels labels;
  Labels annotations;
  std::vector<Mount> mounts;
  std::string log_path;  // absolute
};

struct ContainerFilter {
  std::string id;
  std::optional<ContainerState> state;
  std::string pod_sandbox_id;
  Labels label_selector;
};

struct ExecSyncResult {
  std::string stdout_;
  std::string stderr_;
  int32_t exit_code = 0;
};

struct StreamRequest {  // Exec and Attach
  std::string container_id;
  std::vector<std::string> cmd;  // Exec only
  bool tty = false;
  bool stdin = false;
  bool stdout_ = true;
  bool stderr_ = true;
};

struct Image {
  std::string id;
  std::vector<std::string> repo_tags;
  std::vector<std::string> repo_digests;
  uint64_t size = 0;
  std::optional<int64_t> uid;
  std::string username;
  bool pinned = false;
};

}  // namespace switchyard::kubelet::cri
