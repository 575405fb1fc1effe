#include "kubelet/runtime/node_runtime.h"

#include <arpa/inet.h>
#include <spdlog/spdlog.h>

#include "kubelet/cri/cri_client.h"
#include "kubelet/runtime/image_import.h"

namespace switchyard::kubelet::runtime {

Result<std::string> first_pod_range(const std::string& cluster_cidr) {
  auto slash = cluster_cidr.find('/');
  std::string address = cluster_cidr.substr(0, slash);
  in_addr parsed{};
  if (slash == std::string::npos || ::inet_pton(AF_INET, address.c_str(), &parsed) != 1)
    return fail(ErrorCode::Invalid, "cluster CIDR " + cluster_cidr + " is not an IPv4 CIDR: give --pod-cidr");
  int prefix = std::atoi(cluster_cidr.c_str() + slash + 1);
  if (prefix < 0 || prefix > 24)
    return fail(ErrorCode::Invalid, "cluster CIDR " + cluster_cidr + " is smaller than a /24: give --pod-cidr");
  uint32_t host_order = ntohl(parsed.s_addr) & (prefix == 0 ? 0 : ~uint32_t{0} << (32 - prefix));
  in_addr network{htonl(host_order)};
  char text[INET_ADDRSTRLEN];
  ::inet_ntop(AF_INET, &network, text, sizeof text);
  return std::string(text) + "/24";
}

Result<std::unique_ptr<NodeRuntime>> NodeRuntime::start(const NodeRuntimeOptions& options) {
  auto runtime = std::unique_ptr<NodeRuntime>(new NodeRuntime());
  if (!options.endpoint.empty()) {
    runtime->endpoint_ = options.endpoint;
  } else {
    ContainerdOptions containerd;
    containerd.data_dir = node_containerd_dir(std::filesystem::absolute(options.node_data_dir));
    containerd.pod_cidr = options.pod_cidr;
    auto started = ContainerdSupervisor::start(containerd);
    if (!started) return fail(with_context(started.error(), "starting containerd"));
    runtime->containerd_ = std::move(*started);
    runtime->endpoint_ = runtime->containerd_->endpoint();
  }
  auto client = cri::CriClient::connect(runtime->endpoint_);
  if (!client) return fail(client.error());
  auto version = (*client)->version();
  if (!version) return fail(version.error());
  runtime->version_ = *version;
  spdlog::info("event=container_runtime_ready endpoint={} runtime={} version={} ours={}", runtime->endpoint_, version->runtime_name,
               version->runtime_version, runtime->ours());
  if (!options.images_dir.empty()) {
    auto archives = image_archives_in(options.images_dir);
    if (!archives) return fail(archives.error());
    auto imported = import_images(runtime->endpoint_, *archives);
    if (!imported) return fail(imported.error());
    for (const auto& image : *imported) spdlog::info("event=image_imported image={} id={}", image.name, image.id);
    runtime->images_imported_ = static_cast<int>(imported->size());
  }
  return runtime;
}

NodeRuntime::~NodeRuntime() { stop(); }

void NodeRuntime::stop() {
  if (containerd_) containerd_->stop();
}

}  // namespace switchyard::kubelet::runtime
