#include "kubelet/cri/cri_convert.h"

namespace switchyard::kubelet::cri {

namespace v1 = runtime::v1;

namespace {

template <class ProtoMap>
void copy_map(const Labels& in, ProtoMap& out) {
  for (const auto& [key, value] : in) out[key] = value;
}

template <class ProtoMap>
Labels to_labels(const ProtoMap& in) {
  return Labels(in.begin(), in.end());
}

void to_proto(const NamespaceOptions& in, v1::NamespaceOption& out) {
  out.set_network(static_cast<v1::NamespaceMode>(in.network));
  out.set_pid(static_cast<v1::NamespaceMode>(in.pid));
  out.set_ipc(static_cast<v1::NamespaceMode>(in.ipc));
  out.set_target_id(in.target_id);
}

NamespaceOptions from_proto(const v1::NamespaceOption& in) {
  return NamespaceOptions{.network = static_cast<NamespaceMode>(in.network()),
                          .pid = static_cast<NamespaceMode>(in.pid()),
                          .ipc = static_cast<NamespaceMode>(in.ipc()),
                          .target_id = in.target_id()};
}

void to_proto(const PodSandboxMetadata& in, v1::PodSandboxMetadata& out) {
  out.set_name(in.name);
  out.set_uid(in.uid);
  out.set_namespace_(in.namespace_);
  out.set_attempt(in.attempt);
}

PodSandboxMetadata from_proto(const v1::PodSandboxMetadata& in) {
  return PodSandboxMetadata{.name = in.name(), .uid = in.uid(), .namespace_ = in.namespace_(), .attempt = in.attempt()};
}

void to_proto(const Mount& in, v1::Mount& out) {
  out.set_container_path(in.container_path);
  out.set_host_path(in.host_path);
  out.set_readonly(in.readonly);
  out.set_selinux_relabel(in.selinux_relabel);
  out.set_propagation(static_cast<v1::MountPropagation>(in.propagation));
}

Mount from_proto(const v1::Mount& in) {
  return Mount{.container_path = in.container_path(),
               .host_path = in.host_path(),
               .readonly = in.readonly(),
               .selinux_relabel = in.selinux_relabel(),
               .propagation = static_cast<MountPropagation>(in.propagation())};
}

}  // namespace

void to_proto(const PodSandboxConfig& in, v1::PodSandboxConfig& out) {
  to_proto(in.metadata, *out.mutable_metadata());
  out.set_hostname(in.hostname);
  out.set_log_directory(in.log_directory);
  if (in.dns_config) {
    auto& dns = *out.mutable_dns_config();
    for (const auto& s : in.dns_config->servers) dns.add_servers(s);
    for (const auto& s : in.dns_config->searches) dns.add_searches(s);
    for (const auto& s : in.dns_config->options) dns.add_options(s);
  }
  for (const auto& p : in.port_mappings) {
    auto& m = *out.add_port_mappings();
    m.set_protocol(static_cast<v1::Protocol>(p.protocol));
    m.set_container_port(p.container_port);
    m.set_host_port(p.host_port);
    m.set_host_ip(p.host_ip);
  }
  copy_map(in.labels, *out.mutable_labels());
  copy_map(in.annotations, *out.mutable_annotations());
  auto& linux = *out.mutable_linux();
  linux.set_cgroup_parent(in.cgroup_parent);
  copy_map(in.sysctls, *linux.mutable_sysctls());
  auto& security = *linux.mutable_security_context();
  to_proto(in.namespace_options, *security.mutable_namespace_options());
  if (in.run_as_user) security.mutable_run_as_user()->set_value(*in.run_as_user);
  if (in.run_as_group) security.mutable_run_as_group()->set_value(*in.run_as_group);
  for (auto g : in.supplemental_groups) security.add_supplemental_groups(g);
  security.set_privileged(in.privileged);
  security.set_readonly_rootfs(in.readonly_rootfs);
}

void to_proto(const ContainerConfig& in, v1::ContainerConfig& out) {
  out.mutable_metadata()->set_name(in.metadata.name);
  out.mutable_metadata()->set_attempt(in.metadata.attempt);
  out.mutable_image()->set_image(in.image);
  for (const auto& c : in.command) out.add_command(c);
  for (const auto& a : in.args) out.add_args(a);
  out.set_working_dir(in.working_dir);
  for (const auto& [key, value] : in.envs) {
    auto& kv = *out.add_envs();
    kv.set_key(key);
    kv.set_value(value);
  }
  for (const auto& m : in.mounts) to_proto(m, *out.add_mounts());
  copy_map(in.labels, *out.mutable_labels());
  copy_map(in.annotations, *out.mutable_annotations());
  out.set_log_path(in.log_path);
  out.set_stdin(in.stdin);
  out.set_stdin_once(in.stdin_once);
  out.set_tty(in.tty);
  auto& linux = *out.mutable_linux();
  if (in.resources) {
    auto& r = *linux.mutable_resources();
    r.set_cpu_period(in.resources->cpu_period);
    r.set_cpu_quota(in.resources->cpu_quota);
    r.set_cpu_shares(in.resources->cpu_shares);
    r.set_memory_limit_in_bytes(in.resources->memory_limit_in_bytes);
    r.set_oom_score_adj(in.resources->oom_score_adj);
    r.set_cpuset_cpus(in.resources->cpuset_cpus);
    r.set_cpuset_mems(in.resources->cpuset_mems);
  }
  auto& security = *linux.mutable_security_context();
  security.set_privileged(in.privileged);
  to_proto(in.namespace_options, *security.mutable_namespace_options());
  if (in.run_as_user) security.mutable_run_as_user()->set_value(*in.run_as_user);
  if (in.run_as_group) security.mutable_run_as_group()->set_value(*in.run_as_group);
  for (auto g : in.supplemental_groups) security.add_supplemental_groups(g);
  security.set_run_as_username(in.run_as_username);
  security.set_readonly_rootfs(in.readonly_rootfs);
  security.set_no_new_privs(in.no_new_privs);
  if (!in.add_capabilities.empty() || !in.drop_capabilities.empty()) {
    auto& caps = *security.mutable_capabilities();
    for (const auto& c : in.add_capabilities) caps.add_add_capabilities(c);
    for (const auto& c : in.drop_capabilities) caps.add_drop_capabilities(c);
  }
}

void to_proto(const PodSandboxFilter& in, v1::PodSandboxFilter& out) {
  out.set_id(in.id);
  if (in.state) out.mutable_state()->set_state(static_cast<v1::PodSandboxState>(*in.state));
  copy_map(in.label_selector, *out.mutable_label_selector());
}

void to_proto(const ContainerFilter& in, v1::ContainerFilter& out) {
  out.set_id(in.id);
  if (in.state) out.mutable_state()->set_state(static_cast<v1::ContainerState>(*in.state));
  out.set_pod_sandbox_id(in.pod_sandbox_id);
  copy_map(in.label_selector, *out.mutable_label_selector());
}

VersionInfo from_proto(const v1::VersionResponse& in) {
  return VersionInfo{.version = in.version(),
                     .runtime_name = in.runtime_name(),
                     .runtime_version = in.runtime_version(),
                     .runtime_api_version = in.runtime_api_version()};
}

RuntimeStatus from_proto(const v1::RuntimeStatus& in) {
  RuntimeStatus out;
  for (const auto& c : in.conditions())
    out.conditions.push_back(RuntimeCondition{.type = c.type(), .status = c.status(), .reason = c.reason(), .message = c.message()});
  return out;
}

PodSandbox from_proto(const v1::PodSandbox& in) {
  return PodSandbox{.id = in.id(),
                    .metadata = from_proto(in.metadata()),
                    .state = static_cast<SandboxState>(in.state()),
                    .created_at = in.created_at(),
                    .labels = to_labels(in.labels()),
                    .annotations = to_labels(in.annotations()),
                    .runtime_handler = in.runtime_handler()};
}

PodSandboxStatus from_proto(const v1::PodSandboxStatus& in) {
  PodSandboxStatus out{.id = in.id(),
                       .metadata = from_proto(in.metadata()),
                       .state = static_cast<SandboxState>(in.state()),
                       .created_at = in.created_at(),
                       .ip = in.network().ip(),
                       .additional_ips = {},
                       .namespace_options = std::nullopt,
                       .labels = to_labels(in.labels()),
                       .annotations = to_labels(in.annotations()),
                       .runtime_handler = in.runtime_handler()};
  for (const auto& ip : in.network().additional_ips()) out.additional_ips.push_back(ip.ip());
  if (in.has_linux() && in.linux().has_namespaces() && in.linux().namespaces().has_options())
    out.namespace_options = from_proto(in.linux().namespaces().options());
  return out;
}

Container from_proto(const v1::Container& in) {
  return Container{.id = in.id(),
                   .pod_sandbox_id = in.pod_sandbox_id(),
                   .metadata = ContainerMetadata{.name = in.metadata().name(), .attempt = in.metadata().attempt()},
                   .image = in.image().image(),
                   .image_ref = in.image_ref(),
                   .state = static_cast<ContainerState>(in.state()),
                   .created_at = in.created_at(),
                   .labels = to_labels(in.labels()),
                   .annotations = to_labels(in.annotations())};
}

ContainerStatus from_proto(const v1::ContainerStatus& in) {
  ContainerStatus out{.id = in.id(),
                      .metadata = ContainerMetadata{.name = in.metadata().name(), .attempt = in.metadata().attempt()},
                      .state = static_cast<ContainerState>(in.state()),
                      .created_at = in.created_at(),
                      .started_at = in.started_at(),
                      .finished_at = in.finished_at(),
                      .exit_code = in.exit_code(),
                      .image = in.image().image(),
                      .image_ref = in.image_ref(),
                      .reason = in.reason(),
                      .message = in.message(),
                      .labels = to_labels(in.labels()),
                      .annotations = to_labels(in.annotations()),
                      .mounts = {},
                      .log_path = in.log_path()};
  for (const auto& m : in.mounts()) out.mounts.push_back(from_proto(m));
  return out;
}

Image from_proto(const v1::Image& in) {
  Image out{.id = in.id(),
            .repo_tags = {in.repo_tags().begin(), in.repo_tags().end()},
            .repo_digests = {in.repo_digests().begin(), in.repo_digests().end()},
            .size = in.size(),
            .uid = std::nullopt,
            .username = in.username(),
            .pinned = in.pinned()};
  if (in.has_uid()) out.uid = in.uid().value();
  return out;
}

}  // namespace switchyard::kubelet::cri
