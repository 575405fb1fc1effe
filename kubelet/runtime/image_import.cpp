#include "kubelet/runtime/image_import.h"

#include <algorithm>
#include <sstream>

#include "kubelet/cri/cri_client.h"
#include "kubelet/runtime/command.h"

namespace switchyard::kubelet::runtime {

namespace fs = std::filesystem;

namespace {

// ctr prints "unpacking NAME (sha256:DIGEST)...done" for every image it imported.
std::vector<std::string> imported_names(const std::string& output) {
  std::vector<std::string> names;
  std::istringstream lines(output);
  std::string line;
  while (std::getline(lines, line)) {
    constexpr std::string_view kPrefix = "unpacking ";
    if (!line.starts_with(kPrefix)) continue;
    auto end = line.find(" (", kPrefix.size());
    if (end == std::string::npos) continue;
    names.push_back(line.substr(kPrefix.size(), end - kPrefix.size()));
  }
  return names;
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

Result<std::vector<ImportedImage>> import_images(const std::string& endpoint, const std::vector<fs::path>& archives,
                                                 const std::string& ctr_binary) {
  auto client = cri::CriClient::connect(endpoint);
  if (!client) return fail(client.error());
  std::string address = endpoint.starts_with("unix://") ? endpoint.substr(7) : endpoint;
  // Asked first because ctr waits ~10 s before it gives up on a socket nobody serves.
  if (auto version = (*client)->version(); !version) return fail(with_context(version.error(), "importing images"));
  std::vector<ImportedImage> out;
  for (const auto& archive : archives) {
    std::error_code ec;
    if (!fs::is_regular_file(archive, ec)) return fail(ErrorCode::NotFound, "image archive " + archive.string() + " not found");
    // --no-unpack is not used: CRI wants the layers unpacked into its snapshotter.
    auto r = run_command({ctr_binary, "--address", address, "--namespace", "k8s.io", "images", "import", archive.string()},
                         std::chrono::minutes(5));
    if (!r) return fail(with_context(r.error(), "importing " + archive.string()));
    if (r->exit_code != 0)
      return fail(r->output.find("connection refused") != std::string::npos || r->output.find("no such file") != std::string::npos
                      ? ErrorCode::Unavailable
                      : ErrorCode::Invalid,
                  "importing " + archive.string() + " into " + address + ": " + trim(r->output));
    auto names = imported_names(r->output);
    if (names.empty())
      return fail(ErrorCode::Invalid, "importing " + archive.string() + ": no image in it (ctr said: " + trim(r->output) + ")");
    for (const auto& name : names) {
      auto status = (*client)->image_status(name);
      if (!status) return fail(with_context(status.error(), "checking imported " + name));
      if (!*status) return fail(ErrorCode::NotFound, "imported " + name + " from " + archive.string() + " but CRI does not see it");
      out.push_back(ImportedImage{name, (*status)->id});
    }
  }
  return out;
}

Result<std::vector<fs::path>> image_archives_in(const fs::path& dir) {
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec)
    return fail(ec == std::errc::no_such_file_or_directory ? ErrorCode::NotFound : ErrorCode::Internal,
                "images dir " + dir.string() + ": " + ec.message());
  std::vector<fs::path> out;
  for (const auto& entry : it) {
    if (!entry.is_regular_file()) continue;
    std::string name = entry.path().filename().string();
    if (name.ends_with(".tar")) out.push_back(entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace switchyard::kubelet::runtime
