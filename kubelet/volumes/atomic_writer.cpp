#include "kubelet/volumes/atomic_writer.h"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <vector>

#include <fmt/format.h>

namespace switchyard::kubelet {

namespace fs = std::filesystem;

namespace {

constexpr const char* kDataLink = "..data";
constexpr const char* kNewDataLink = "..data_tmp";

Error io_error(const std::string& what, const fs::path& p, const std::error_code& ec) {
  return Error{ErrorCode::Internal, fmt::format("{} {}: {}", what, p.string(), ec.message())};
}

constexpr mode_t kGroupDirBits = S_ISGID | 0550;

// Whether the directory holds exactly the payload (content, mode and, with fs_group, group).
bool holds(const fs::path& dir, const Payload& payload, std::optional<std::uint32_t> fs_group) {
  std::error_code ec;
  std::size_t files = 0;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
    if (it->is_regular_file()) ++files;
  if (ec || files != payload.size()) return false;
  for (const auto& [path, file] : payload) {
    struct stat st {};
    const fs::path p = dir / path;
    if (::lstat(p.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || (st.st_mode & 0777) != file.mode) return false;
    if (fs_group && st.st_gid != *fs_group) return false;
    std::ifstream in(p, std::ios::binary);
    std::ostringstream text;
    text << in.rdbuf();
    if (text.str() != file.data) return false;
  }
  return true;
}

std::string top_level(const std::string& path) { return path.substr(0, path.find('/')); }

// A directory of the volume in the pod's fsGroup, setgid so that what is made in it is too.
Result<> own_dir(const fs::path& p, std::optional<std::uint32_t> fs_group) {
  if (!fs_group) return {};
  struct stat st {};
  if (::lchown(p.c_str(), static_cast<uid_t>(-1), *fs_group) != 0 || ::stat(p.c_str(), &st) != 0 ||
      ::chmod(p.c_str(), (st.st_mode & 07777) | kGroupDirBits) != 0)
    return fail(Error{ErrorCode::Internal, fmt::format("setting the fsGroup {} on {}", *fs_group, p.string())});
  return {};
}

}  // namespace

Payload with_group_read(Payload payload) {
  for (auto& [path, file] : payload) file.mode |= 0440;
  return payload;
}

Result<bool> write_atomically(const std::string& target, const Payload& payload, std::optional<std::uint32_t> fs_group) {
  const fs::path dir(target);
  std::error_code ec;
  const fs::path data_link = dir / kDataLink;
  const fs::path old_link_target = fs::read_symlink(data_link, ec);
  const bool had_data = !ec;
  if (had_data && holds(dir / old_link_target, payload, fs_group)) return false;
  if (auto ok = own_dir(dir, fs_group); !ok) return fail(ok.error());

  // 1. The new files, in a directory no reader looks at yet.
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const std::string ts_name = fmt::format("..{}", std::chrono::duration_cast<std::chrono::nanoseconds>(now).count());
  const fs::path ts_dir = dir / ts_name;
  fs::create_directory(ts_dir, ec);
  if (ec) return fail(io_error("creating", ts_dir, ec));
  ::chmod(ts_dir.c_str(), 0755);
  if (auto ok = own_dir(ts_dir, fs_group); !ok) return fail(ok.error());
  for (const auto& [path, file] : payload) {
    const fs::path p = ts_dir / path;
    const bool new_dir = !fs::exists(p.parent_path(), ec);
    fs::create_directories(p.parent_path(), ec);
    if (ec) return fail(io_error("creating", p.parent_path(), ec));
    if (new_dir)
      for (fs::path d = p.parent_path(); d != ts_dir && d.has_relative_path(); d = d.parent_path())
        if (auto ok = own_dir(d, fs_group); !ok) return fail(ok.error());
    {
      std::ofstream out(p, std::ios::binary | std::ios::trunc);
      out << file.data;
      if (!out) return fail(Error{ErrorCode::Internal, fmt::format("writing {}", p.string())});
    }
    if (::chmod(p.c_str(), file.mode) != 0) return fail(Error{ErrorCode::Internal, fmt::format("chmod {}", p.string())});
    if (fs_group && ::lchown(p.c_str(), static_cast<uid_t>(-1), *fs_group) != 0)
      return fail(Error{ErrorCode::Internal, fmt::format("chown {} to group {}", p.string(), *fs_group)});
  }
  // 2. One rename(2) makes every file of the new version visible at once.
  const fs::path tmp_link = dir / kNewDataLink;
  fs::remove(tmp_link, ec);
  fs::create_directory_symlink(ts_name, tmp_link, ec);
  if (ec) return fail(io_error("linking", tmp_link, ec));
  fs::rename(tmp_link, data_link, ec);
  if (ec) return fail(io_error("renaming", tmp_link, ec));
  // 3. The names users see: `key` -> `..data/key`.
  std::set<std::string> names;
  for (const auto& [path, file] : payload) names.insert(top_level(path));
  for (const auto& name : names) {
    const fs::path link = dir / name;
    if (fs::is_symlink(fs::symlink_status(link, ec))) continue;
    fs::create_symlink(fs::path(kDataLink) / name, link, ec);
    if (ec) return fail(io_error("linking", link, ec));
  }
  // 4. What the old version had and this one has not.
  std::vector<fs::path> stale;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name == kDataLink || name == ts_name) continue;
    if (name.starts_with("..") || !names.contains(name)) stale.push_back(it->path());
  }
  for (const auto& p : stale) fs::remove_all(p, ec);
  return true;
}

}  // namespace switchyard::kubelet
