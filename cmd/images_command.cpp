// `switchyard images import FILE…` loads OCI or docker image archives into the node's
// containerd (its k8s.io namespace, the one CRI serves), for clusters without a reachable
// registry; `switchyard images list` shows what the runtime has, as CRI reports it.
// The runtime is --container-runtime-endpoint, or the containerd that `switchyard up
// --data-dir DIR` runs (its socket under DIR).
#include <filesystem>
#include <iostream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cmd/commands.h"
#include "kubelet/cri/cri_client.h"
#include "kubelet/runtime/containerd_config.h"
#include "kubelet/runtime/image_import.h"

namespace switchyard::cmd {

namespace {

struct ImagesOptions {
  std::string endpoint;
  std::string data_dir;
  std::vector<std::string> files;
};

Result<std::string> resolve_endpoint(const ImagesOptions& o) {
  if (!o.endpoint.empty()) return o.endpoint;
  if (o.data_dir.empty()) return fail(ErrorCode::Invalid, "give --container-runtime-endpoint or the node's --data-dir");
  kubelet::runtime::ContainerdPaths paths(kubelet::runtime::node_containerd_dir(std::filesystem::absolute(o.data_dir)));
  return paths.socket.string();
}

int run_import(const ImagesOptions& o) {
  auto endpoint = resolve_endpoint(o);
  if (!endpoint) {
    std::cerr << "error: " << endpoint.error() << "\n";
    return 2;
  }
  std::vector<std::filesystem::path> archives(o.files.begin(), o.files.end());
  auto imported = kubelet::runtime::import_images(*endpoint, archives);
  if (!imported) {
    std::cerr << "error: " << imported.error() << "\n";
    return 1;
  }
  for (const auto& image : *imported) std::cout << fmt::format("imported {} ({})\n", image.name, image.id);
  return 0;
}

int run_list(const ImagesOptions& o) {
  auto endpoint = resolve_endpoint(o);
  if (!endpoint) {
    std::cerr << "error: " << endpoint.error() << "\n";
    return 2;
  }
  auto client = kubelet::cri::CriClient::connect(*endpoint);
  if (!client) {
    std::cerr << "error: " << client.error() << "\n";
    return 1;
  }
  auto images = (*client)->list_images();
  if (!images) {
    std::cerr << "error: " << images.error() << "\n";
    return 1;
  }
  std::cout << fmt::format("{:<48}  {:<19}  {:>10}\n", "IMAGE", "ID", "SIZE");
  for (const auto& image : *images) {
    std::string id = image.id.starts_with("sha256:") ? image.id.substr(7, 12) : image.id.substr(0, 12);
    for (const auto& tag : image.repo_tags.empty() ? std::vector<std::string>{"<none>"} : image.repo_tags)
      std::cout << fmt::format("{:<48}  {:<19}  {:>10}\n", tag, id, image.size);
  }
  return 0;
}

void add_runtime_options(CLI::App* sub, ImagesOptions& o) {
  sub->add_option("--container-runtime-endpoint", o.endpoint, "the runtime's CRI socket (a path or unix:///path)");
  sub->add_option("--data-dir", o.data_dir, "the node's data dir (`switchyard up --data-dir`): its own containerd");
}

}  // namespace

void register_images(CLI::App& app, std::function<int()>& run) {
  auto o = std::make_shared<ImagesOptions>();
  auto* images = app.add_subcommand("images", "load image archives into the node's container runtime, list its images");
  images->require_subcommand(1);
  auto* import =
      images->add_subcommand("import", "import OCI or docker archives (docker save, skopeo copy) into containerd's k8s.io namespace");
  import->add_option("files", o->files, "image archives")->required()->check(CLI::ExistingFile);
  add_runtime_options(import, *o);
  import->callback([o, &run] { run = [o] { return run_import(*o);
};
}  // namespace switchyard::cmd
);
auto* list = images->add_subcommand("list", "the runtime's images as CRI lists them");
add_runtime_options(list, *o);
list->callback([o, &run] { run = [o] { return run_list(*o); }; });
}

}  // namespace switchyard::cmd
