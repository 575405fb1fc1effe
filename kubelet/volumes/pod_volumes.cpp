#include "kubelet/volumes/pod_volumes.h"

#include <sys/mount.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "kubelet/volumes/atomic_writer.h"
#include "kubelet/volumes/volume_payload.h"
#include "orchestrator/api/storage.h"

namespace switchyard::kubelet {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

bool is_mount_point(const fs::path& p) {
  struct stat self {
  }, parent{};
  if (::stat(p.c_str(), &self) != 0 || ::stat(p.parent_path().c_str(), &parent) != 0) return false;
  return self.st_dev != parent.st_dev;
}

Result<> make_dir(const fs::path& p, fs::perms mode) {
  std::error_code ec;
  fs::create_directories(p, ec);
  if (ec) return fail(ErrorCode::Internal, fmt::format("mkdir {}: {}", p.string(), ec.message()));
  fs::permissions(p, mode, ec);
  return {};
}

// A tmpfs on `dir` (once: a later call finds it mounted).
Result<> mount_tmpfs(const fs::path& dir, std::optional<std::int64_t> size_bytes, const char* mode) {
  if (is_mount_point(dir)) return {};
  std::string options = fmt::format("mode={}", mode);
  if (size_bytes && *size_bytes > 0) options += fmt::format(",size={}", *size_bytes);
  if (::mount("tmpfs", dir.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, options.c_str()) != 0)
    return fail(ErrorCode::Internal, fmt::format("mount tmpfs on {}: {}", dir.string(), std::strerror(errno)));
  return {};
}

// The hostPath type checks (pkg/volume/hostpath checkTypeInternal), creating what *OrCreate asks for.
Result<> check_host_path(const std::string& path, const std::string& type) {
  struct stat st {};
  const bool exists = ::stat(path.c_str(), &st) == 0;
  auto not_a = [&](const char* what) {
    return fail(ErrorCode::Invalid, fmt::format("hostPath type check failed: {} is not a {}", path, what));
  };
  if (type.empty()) return {};
  if (type == "DirectoryOrCreate" || type == "Directory") {
    if (!exists && type == "DirectoryOrCreate") return make_dir(path, fs::perms(0755));
    if (!exists || !S_ISDIR(st.st_mode)) return not_a("directory");
    return {};
  }
  if (type == "FileOrCreate" || type == "File") {
    if (!exists && type == "FileOrCreate") {
      std::ofstream f(path, std::ios::app);
      if (!f) return fail(ErrorCode::Invalid, fmt::format("open {}: no such file or directory", path));
      ::chmod(path.c_str(), 0644);
      return {};
    }
    if (!exists || !S_ISREG(st.st_mode)) return not_a("file");
    return {};
  }
  if (type == "Socket") return exists && S_ISSOCK(st.st_mode) ? Result<>{} : not_a("socket file");
  if (type == "CharDevice") return exists && S_ISCHR(st.st_mode) ? Result<>{} : not_a("character device");
  if (type == "BlockDevice") return exists && S_ISBLK(st.st_mode) ? Result<>{} : not_a("block device");
  return fail(ErrorCode::Invalid, fmt::format("{} is an invalid volume type", type));
}

// securityContext.fsGroup, the group the pod's volumes belong to.
std::optional<std::uint32_t> fs_group_of(const api::Pod& pod) {
  const json sc = passthrough_field(pod.spec.passthrough, "securityContext");
  if (!sc.is_object() || !sc.contains("fsGroup") || !sc["fsGroup"].is_number_integer()) return std::nullopt;
  return static_cast<std::uint32_t>(sc["fsGroup"].get<std::int64_t>());
}

// A writable volume's directory in the fsGroup (SetVolumeOwnership: group rw and search, setgid,
// so that what the containers make in it is the group's too).
Result<> own_writable_dir(const fs::path& dir, std::uint32_t gid) {
  struct stat st {};
  if (::lchown(dir.c_str(), static_cast<uid_t>(-1), gid) != 0 || ::stat(dir.c_str(), &st) != 0 ||
      ::chmod(dir.c_str(), (st.st_mode & 07777) | S_ISGID | 0770) != 0)
    return fail(ErrorCode::Internal, fmt::format("setting the fsGroup {} on {}: {}", gid, dir.string(), std::strerror(errno)));
  return {};
}

// /proc/self/mountinfo's mount points under `prefix`, deepest first.
std::vector<std::string> mounts_under(const std::string& prefix) {
  std::vector<std::string> out;
  std::ifstream in("/proc/self/mountinfo");
  for (std::string line; std::getline(in, line);) {
    std::istringstream words(line);
    std::string id, parent, devs, root, point;
    words >> id >> parent >> devs >> root >> point;
    if (point == prefix || point.starts_with(prefix + "/")) out.push_back(point);
  }
  std::ranges::sort(out, [](const auto& a, const auto& b) { return a.size() > b.size(); });
  return out;
}

}  // namespace

std::string PodVolumes::pod_dir(const std::string& uid) const { return fmt::format("{}/pods/{}", node_.root_dir, uid); }

std::vector<std::string> PodVolumes::pod_uids_on_disk() const {
  std::vector<std::string> uids;
  if (node_.root_dir.empty()) return uids;
  std::error_code ec;
  // <root>/pods holds <uid>/ (volumes) and <ns>_<name>_<uid>/ (logs): a uid has no '_'.
  for (auto it = fs::directory_iterator(fs::path(node_.root_dir) / "pods", ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.find('_') == std::string::npos && fs::is_directory(it->path() / "volumes", ec)) uids.push_back(name);
  }
  return uids;
}

Result<PreparedVolume> PodVolumes::prepare_one(const api::Pod& pod, const json& v) {
  const std::string name = v.value("name", "");
  const fs::path base = fs::path(pod_dir(pod.metadata.uid)) / "volumes";
  if (v.contains("hostPath")) {
    const std::string path = v["hostPath"].value("path", "");
    if (auto ok = check_host_path(path, v["hostPath"].value("type", "")); !ok) return fail(ok.error());
    return PreparedVolume{path, false};
  }
  if (v.contains("persistentVolumeClaim")) return prepare_claim(pod, v["persistentVolumeClaim"]);
  if (v.contains("emptyDir")) {
    const fs::path dir = base / "kubernetes.io~empty-dir" / name;
    if (auto ok = make_dir(dir, fs::perms(0777)); !ok) return fail(ok.error());
    const json& spec = v["emptyDir"];
    if (spec.is_object() && spec.value("medium", "") == "Memory") {
      std::optional<std::int64_t> size;
      if (spec.contains("sizeLimit")) {
        const json& q = spec["sizeLimit"];
        size = parse_bytes(q.is_string() ? q.get<std::string>() : q.dump());
        if (!size) return fail(ErrorCode::Invalid, fmt::format("emptyDir sizeLimit {} is not a quantity", q.dump()));
      }
      if (auto ok = mount_tmpfs(dir, size, "0777"); !ok) return fail(ok.error());
    }
    if (auto gid = fs_group_of(pod))
      if (auto ok = own_writable_dir(dir, *gid); !ok) return fail(ok.error());
    return PreparedVolume{dir.string(), false};
  }
  if (is_projected_kind(v)) {
    const char* plugin = v.contains("configMap")     ? "kubernetes.io~configmap"
                         : v.contains("secret")      ? "kubernetes.io~secret"
                         : v.contains("downwardAPI") ? "kubernetes.io~downward-api"
                                                     : "kubernetes.io~projected";
    const fs::path dir = base / plugin / name;
    auto payload = volume_payload(pod, v, lookup_, node_);
    if (!payload) return fail(payload.error());
    if (auto ok = make_dir(dir, fs::perms(0755)); !ok) return fail(ok.error());
    if (v.contains("secret") || v.contains("projected"))
      if (auto ok = mount_tmpfs(dir, std::nullopt, "0755"); !ok) return fail(ok.error());
    const auto fs_group = fs_group_of(pod);
    const std::size_t files = payload->size();
    auto written = write_atomically(dir.string(), fs_group ? with_group_read(std::move(*payload)) : std::move(*payload), fs_group);
    if (!written) return fail(written.error());
    if (*written)
      spdlog::info("event=volume_files_written pod={}/{} volume={} files={}", pod.metadata.namespace_, pod.metadata.name, name, files);
    return PreparedVolume{dir.string(), true};
  }
  std::string kind = "unknown";
  for (auto it = v.begin(); it != v.end(); ++it)
    if (it.key() != "name") kind = it.key();
  return fail(ErrorCode::Invalid, fmt::format("{} volumes are not supported by this kubelet", kind));
}

// A claim resolves to its bound volume; hostPath and local volumes are directories on this node,
// bind-mounted by CRI like a hostPath volume.
Result<PreparedVolume> PodVolumes::prepare_claim(const api::Pod& pod, const json& source) {
  const std::string& ns = pod.metadata.namespace_;
  const std::string claim_name = source.is_object() ? api::text_of(source, "claimName") : "";
  const bool read_only = source.is_object() && source.value("readOnly", false);
  auto claim = lookup_.claim(ns, claim_name);
  if (!claim) return fail(claim.error());
  if (!*claim) return fail(ErrorCode::NotFound, fmt::format("persistentvolumeclaim \"{}\" not found", claim_name));
  const auto spec = passthrough_field((*claim)->body, "spec");
  const auto status = passthrough_field((*claim)->body, "status");
  const std::string phase = status.is_object() ? api::text_of(status, "phase") : "";
  const std::string volume_name = spec.is_object() ? api::text_of(spec, "volumeName") : "";
  if (phase != "Bound" || volume_name.empty())
    return fail(ErrorCode::Unavailable, fmt::format("PVC {}/{} has non-bound phase (\"{}\") or empty pvc.Spec.VolumeName (\"{}\")", ns,
                                                    claim_name, phase, volume_name));
  auto volume = lookup_.volume(volume_name);
  if (!volume) return fail(volume.error());
  if (!*volume) return fail(ErrorCode::NotFound, fmt::format("persistentvolume \"{}\" not found", volume_name));
  const auto pv_spec = passthrough_field((*volume)->body, "spec");
  if (pv_spec.is_object() && pv_spec.contains("hostPath") && pv_spec["hostPath"].is_object()) {
    const std::string path = api::text_of(pv_spec["hostPath"], "path");
    if (auto ok = check_host_path(path, api::text_of(pv_spec["hostPath"], "type")); !ok) return fail(ok.error());
    return PreparedVolume{path, read_only};
  }
  if (pv_spec.is_object() && pv_spec.contains("local") && pv_spec["local"].is_object()) {
    const std::string path = api::text_of(pv_spec["local"], "path");
    if (auto ok = check_host_path(path, "Directory"); !ok) return fail(ok.error());
    return PreparedVolume{path, read_only};
  }
  return fail(ErrorCode::Invalid,
              fmt::format("persistentvolume \"{}\": only hostPath and local volumes can be mounted by this kubelet", volume_name));
}

Result<std::map<std::string, PreparedVolume>> PodVolumes::prepare(const api::Pod& pod) {
  std::map<std::string, PreparedVolume> out;
  const json volumes = passthrough_field(pod.spec.passthrough, "volumes");
  if (!volumes.is_array()) return out;
  for (const auto& v : volumes) {
    if (!v.is_object()) continue;
    const std::string name = v.value("name", "");
    auto ready = prepare_one(pod, v);
    if (!ready) {
      Error e = ready.error();
      e.message = fmt::format("MountVolume.SetUp failed for volume \"{}\" : {}", name, e.message);
      return fail(std::move(e));
    }
    out[name] = std::move(*ready);
  }
  return out;
}

Result<> PodVolumes::teardown(const std::string& uid) {
  if (node_.root_dir.empty() || uid.empty()) return {};
  const std::string dir = pod_dir(uid);
  for (const auto& point : mounts_under(dir))
    if (::umount2(point.c_str(), MNT_DETACH) != 0 && errno != EINVAL && errno != ENOENT)
      return fail(ErrorCode::Internal, fmt::format("unmounting {}: {}", point, std::strerror(errno)));
  std::error_code ec;
  fs::remove_all(dir, ec);
  if (ec) return fail(ErrorCode::Internal, fmt::format("removing {}: {}", dir, ec.message()));
  return {};
}

}  // namespace switchyard::kubelet
