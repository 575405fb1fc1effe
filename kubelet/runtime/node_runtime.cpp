#include "kubelet/runtime/node_runtime.h"

#include <arpa/inet.h>
#include <spdlog/spdlog.h>

#include "kubelet/cri/cri_client.h"
#include "kubelet/runtime/image_import.h"

namespace switchyard::kubelet::runtime {

Result<std::unique_ptr<NodeRuntime>> NodeRuntime::start(const NodeRuntimeOptions& options) {
  auto runtime = std::unique_ptr<NodeRuntime>(new NodeRuntime());
  if (!options.endpoint.empty()) {
    runtime->endpoint_ = options.endpoint;
  } else {
    ContainerdOptions containerd;
    containerd.data_dir = node_containerd_dir(std::filesystem::absolute(options.node_data_dir));
    containerd.pod_cidr = options.pod_cidr;
    runtime->containerd_options_ = containerd;
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

Result<void> NodeRuntime::set_pod_cidrs(const std::vector<std::string>& cidrs) {
  std::string joined;
  for (const auto& c : cidrs) joined += (joined.empty() ? "" : ",") + c;
  if (!containerd_) {
    spdlog::info("event=pod_cidr node_runtime=foreign pod_cidrs={} effect=\"the runtime's own CNI config decides pod addresses\"", joined);
    return {};
  }
  if (joined == containerd_options_.pod_cidr) return {};
  containerd_options_.pod_cidr = joined;
  if (auto ok = write_cni_conflist(containerd_options_); !ok) return fail(ok.error());
  spdlog::info("event=cni_config_written pod_cidrs={}", joined);
  return {};
}

void NodeRuntime::stop() {
  if (containerd_) containerd_->stop();
}

}  // namespace switchyard::kubelet::runtime
