// Validation of a Pod's volumes and its containers' volumeMounts, which the typed model keeps as
// passthrough JSON, with kube-apiserver's paths and messages (ValidateVolumes,
// validateVolumeSource, validateKeyToPath, validateHostPathType, ValidateVolumeMounts).
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "orchestrator/api/validation.h"

namespace switchyard::api {

namespace {

using Json = nlohmann::json;

Json parsed(const Passthrough& p, const char* field) {
  auto it = p.find(field);
  if (it == p.end()) return Json();
  Json j = Json::parse(it->second, nullptr, false);
  return j.is_discarded() ? Json() : j;
}

// The volume sources in the order validateVolumeSource looks at them.
constexpr const char* kSources[] = {"hostPath",
                                    "emptyDir",
                                    "gitRepo",
                                    "gcePersistentDisk",
                                    "awsElasticBlockStore",
                                    "secret",
                                    "nfs",
                                    "iscsi",
                                    "glusterfs",
                                    "flexVolume",
                                    "persistentVolumeClaim",
                                    "rbd",
                                    "cinder",
                                    "cephfs",
                                    "quobyte",
                                    "downwardAPI",
                                    "fc",
                                    "azureFile",
                                    "vsphereVolume",
                                    "photonPersistentDisk",
                                    "portworxVolume",
                                    "azureDisk",
                                    "storageos",
                                    "configMap",
                                    "scaleIO",
                                    "projected",
                                    "csi",
                                    "ephemeral",
                                    "image"};

// validateLocalDescendingPath: relative, no '..' element.
void local_descending_path(FieldErrors& errs, const std::string& path, const FieldPath& p) {
  if (!path.empty() && path.front() == '/') errs.push_back(invalid(p, go_quoted(path), "must be a relative path"));
  std::size_t start = 0;
  while (start <= path.size()) {
    const auto end = std::min(path.find('/', start), path.size());
    if (path.substr(start, end - start) == "..") {
      errs.push_back(invalid(p, go_quoted(path), "must not contain '..'"));
      break;
    }
    start = end + 1;
  }
}

void mode(FieldErrors& errs, const Json& o, const char* field, const FieldPath& p) {
  if (!o.is_object() || !o.contains(field) || !o[field].is_number_integer()) return;
  const auto m = o[field].get<std::int64_t>();
  if (m < 0 || m > 0777)
    errs.push_back(invalid(p.child(field), rendered(m), "must be a number between 0 and 0777 (octal), both inclusive"));
}

void key_to_paths(FieldErrors& errs, const Json& items, const FieldPath& p) {
  if (!items.is_array()) return;
  for (std::size_t i = 0; i < items.size(); ++i) {
    const Json& item = items[i];
    const FieldPath ip = p.index(i);
    if (item.value("key", "").empty()) errs.push_back(required(ip.child("key")));
    const std::string path = item.value("path", "");
    if (path.empty())
      errs.push_back(required(ip.child("path")));
    else {
      local_descending_path(errs, path, ip.child("path"));
      if (path.starts_with("..")) errs.push_back(invalid(ip.child("path"), go_quoted(path), "must not start with '..'"));
    }
    mode(errs, item, "mode", ip);
  }
}

void volume_source(FieldErrors& errs, const Json& v, const FieldPath& vp) {
  const char* first = nullptr;
  for (const char* s : kSources) {
    if (!v.contains(s)) continue;
    if (first) {
      errs.push_back(forbidden(vp.child(s), "may not specify more than 1 volume type"));
      continue;
    }
    first = s;
  }
  if (!first) {
    errs.push_back(required(vp, "must specify a volume type"));
    return;
  }
  const std::string kind = first;
  const Json& src = v[first];
  const FieldPath sp = vp.child(first);
  if (kind == "hostPath") {
    if (src.value("path", "").empty()) errs.push_back(required(sp.child("path")));
    const std::string type = src.value("type", "");
    static const std::vector<std::string_view> kTypes = {"",     "BlockDevice",  "CharDevice", "Directory", "DirectoryOrCreate",
                                                         "File", "FileOrCreate", "Socket"};
    if (std::ranges::find(kTypes, type) == kTypes.end()) errs.push_back(not_supported(sp.child("type"), go_quoted(type), kTypes));
  } else if (kind == "secret") {
    mode(errs, src, "defaultMode", sp);
    key_to_paths(errs, src.value("items", Json()), sp.child("items"));
  } else if (kind == "configMap") {
    if (src.value("name", "").empty()) errs.push_back(required(sp.child("name")));
    mode(errs, src, "defaultMode", sp);
    key_to_paths(errs, src.value("items", Json()), sp.child("items"));
  } else if (kind == "emptyDir") {
    const std::string medium = src.is_object() ? src.value("medium", "") : "";
    if (medium != "" && medium != "Memory" && medium != "HugePages")
      errs.push_back(not_supported(sp.child("medium"), go_quoted(medium), {"", "HugePages", "Memory"}));
  }
}

}  // namespace

void validate_pod_volumes(FieldErrors& errs, const PodSpec& spec) {
  const FieldPath vsp = FieldPath("spec").child("volumes");
  std::set<std::string> names;
  const Json volumes = parsed(spec.passthrough, "volumes");
  if (volumes.is_array())
    for (std::size_t i = 0; i < volumes.size(); ++i) {
      const Json& v = volumes[i];
      if (!v.is_object()) continue;
      const FieldPath vp = vsp.index(i);
      const std::string name = v.value("name", "");
      if (name.empty())
        errs.push_back(required(vp.child("name")));
      else {
        for (const auto& msg : dns1123_label(name)) errs.push_back(invalid(vp.child("name"), go_quoted(name), msg));
        if (!names.insert(name).second) errs.push_back(duplicate(vp.child("name"), go_quoted(name)));
      }
      volume_source(errs, v, vp);
    }
  auto mounts = [&](const std::vector<Container>& cs, const char* field) {
    for (std::size_t c = 0; c < cs.size(); ++c) {
      const Json vms = parsed(cs[c].passthrough, "volumeMounts");
      if (!vms.is_array()) continue;
      std::set<std::string> paths;
      for (std::size_t i = 0; i < vms.size(); ++i) {
        const Json& m = vms[i];
        const FieldPath mp = FieldPath("spec").child(field).index(c).child("volumeMounts").index(i);
        const std::string name = m.value("name", ""), path = m.value("mountPath", ""), sub = m.value("subPath", "");
        if (name.empty())
          errs.push_back(required(mp.child("name")));
        else if (!names.contains(name))
          errs.push_back(FieldError{FieldErrorType::NotFound, mp.child("name").str(), go_quoted(name), ""});
        if (path.empty())
          errs.push_back(required(mp.child("mountPath")));
        else if (!paths.insert(path).second)
          errs.push_back(invalid(mp.child("mountPath"), go_quoted(path), "must be unique"));
        if (!sub.empty()) local_descending_path(errs, sub, mp.child("subPath"));
      }
    }
  };
  mounts(spec.init_containers, "initContainers");
  mounts(spec.containers, "containers");
}

}  // namespace switchyard::api
