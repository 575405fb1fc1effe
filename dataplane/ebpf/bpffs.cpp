#include "dataplane/ebpf/bpffs.h"

#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/statfs.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace switchyard::dataplane::ebpf {
namespace {

Error bpffs_error(const std::string& what, int err) { return Error{ErrorCode::Internal, what + ": " + std::strerror(err)}; }

// The deepest existing directory on the way to `path` (statfs needs something that exists).
std::filesystem::path existing_ancestor(std::filesystem::path path) {
  std::error_code ec;
  while (!path.empty() && !std::filesystem::exists(path, ec) && path != path.root_path()) path = path.parent_path();
  return path.empty() ? std::filesystem::path("/") : path;
}

bool under(const std::filesystem::path& path, const std::filesystem::path& dir) {
  auto [d, p] = std::mismatch(dir.begin(), dir.end(), path.begin(), path.end());
  return d == dir.end();
}

}  // namespace

bool on_bpffs(const std::string& path) {
  struct statfs fs {};
  return statfs(path.c_str(), &fs) == 0 && fs.f_type == BPF_FS_MAGIC;
}

Result<void> ensure_bpffs_pin_dir(const std::string& pin_dir, std::string* mounted) {
  if (mounted) mounted->clear();
  const std::filesystem::path dir = std::filesystem::path(pin_dir).lexically_normal();
  if (!on_bpffs(existing_ancestor(dir).string())) {
    // Mount at the conventional place when the pins go there (what bpftool, systemd and Cilium
    // all expect), else where the pins were asked for.
    const std::filesystem::path target = under(dir, kDefaultBpffsMount) ? std::filesystem::path(kDefaultBpffsMount) : dir;
    std::error_code ec;
    std::filesystem::create_directories(target, ec);
    if (ec)
      return fail(
          Error{ErrorCode::Internal, "no bpf filesystem at " + target.string() + ", and its directory cannot be made: " + ec.message()});
    // mode=0700 as Cilium mounts it: pinned maps are the dataplane's state, root only.
    if (::mount("bpffs", target.c_str(), "bpf", 0, "mode=0700") != 0)
      return fail(bpffs_error(
          "no bpf filesystem at " + target.string() + ", and mounting one there failed (mount -t bpf bpffs " + target.string() + ")",
          errno));
    if (!on_bpffs(target.string()))
      return fail(Error{ErrorCode::Internal, "mounted a bpf filesystem at " + target.string() + " but statfs does not see it there"});
    if (mounted) *mounted = target.string();
  }
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return fail(Error{ErrorCode::Internal, "pin directory " + dir.string() + ": " + ec.message()});
  if (!on_bpffs(dir.string()))
    return fail(
        Error{ErrorCode::Internal, "pin directory " + dir.string() + " is not on a bpf filesystem (mount -t bpf bpffs /sys/fs/bpf)"});
  return {};
}

}  // namespace switchyard::dataplane::ebpf
