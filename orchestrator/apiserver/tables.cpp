// meta.k8s.io/v1 Tables for `kubectl get`, with the columns the real server shows per kind.
#include <ctime>

#include <fmt/format.h>

#include "orchestrator/apiserver/event_versions.h"
#include "orchestrator/apiserver/api_handler.h"
#include "orchestrator/apiserver/pod_printer.h"

namespace switchyard::apiserver {

// apimachinery's duration.HumanDuration.
std::string human_duration(long long seconds) {
  if (seconds < 0) return "<invalid>";
  if (seconds < 120) return fmt::format("{}s", seconds);
  const long long minutes = seconds / 60;
  if (minutes < 10) return seconds % 60 == 0 ? fmt::format("{}m", minutes) : fmt::format("{}m{}s", minutes, seconds % 60);
  if (minutes < 180) return fmt::format("{}m", minutes);
  const long long hours = minutes / 60;
  if (hours < 8) return minutes % 60 == 0 ? fmt::format("{}h", hours) : fmt::format("{}h{}m", hours, minutes % 60);
  if (hours < 48) return fmt::format("{}h", hours);
  if (hours < 192) return hours % 24 == 0 ? fmt::format("{}d", hours / 24) : fmt::format("{}d{}h", hours / 24, hours % 24);
  const long long days = hours / 24;
  if (days < 730) return fmt::format("{}d", days);
  if (days < 2920) return days % 365 == 0 ? fmt::format("{}y", days / 365) : fmt::format("{}y{}d", days / 365, days % 365);
  return fmt::format("{}y", days / 365);
}

namespace {

std::time_t parse_time(const std::string& s) {
  std::tm tm{};
  if (!strptime(s.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm)) return 0;
  return timegm(&tm);
}

std::string age(const Json& obj) {
  const auto ts = obj["metadata"].value("creationTimestamp", "");
  if (ts.empty()) return "<unknown>";
  return human_duration(static_cast<long long>(std::time(nullptr) - parse_time(ts)));
}

std::string join(const std::vector<std::string>& v, const char* sep = ",") {
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) out += (i ? sep : "") + v[i];
  return out;
}

std::string first_three(const std::vector<std::string>& v) {
  if (v.empty()) return "<none>";
  if (v.size() <= 3) return join(v);
  return fmt::format("{} + {} more...", join({v.begin(), v.begin() + 3}), v.size() - 3);
}

Json column(const char* name, const char* type, int priority = 0, const char* format = "") {
  return {{"name", name}, {"type", type}, {"format", format}, {"description", ""}, {"priority", priority}};
}

Json columns_for(const std::string& kind) {
  if (auto apps = apps_columns(kind)) return *apps;
  if (auto config = config_columns(kind)) return *config;
  if (auto policy = policy_columns(kind)) return *policy;
  if (auto batch = batch_columns(kind)) return *batch;
  if (auto sts = statefulset_columns(kind)) return *sts;
  if (auto storage = storage_columns(kind)) return *storage;
  if (kind == "Namespace") return {column("Name", "string", 0, "name"), column("Status", "string"), column("Age", "string")};
  if (kind == "Pod")
    return {column("Name", "string", 0, "name"), column("Ready", "string"), column("Status", "string"),
            column("Restarts", "string"),        column("Age", "string"),   column("IP", "string", 1),
            column("Node", "string", 1)};
  if (kind == "Service")
    return {column("Name", "string", 0, "name"), column("Type", "string"), column("Cluster-IP", "string"), column("External-IP", "string"),
            column("Port(s)", "string"),         column("Age", "string"),  column("Selector", "string", 1)};
  if (kind == "Endpoints") return {column("Name", "string", 0, "name"), column("Endpoints", "string"), column("Age", "string")};
  if (kind == "EndpointSlice")
    return {column("Name", "string", 0, "name"), column("AddressType", "string"), column("Ports", "string"), column("Endpoints", "string"),
            column("Age", "string")};
  if (kind == "Node")
    return {column("Name", "string", 0, "name"),
            column("Status", "string"),
            column("Roles", "string"),
            column("Age", "string"),
            column("Version", "string"),
            column("Internal-IP", "string", 1),
            column("External-IP", "string", 1),
            column("OS-Image", "string", 1),
            column("Kernel-Version", "string", 1),
            column("Container-Runtime", "string", 1)};
  if (kind == "Lease") return {column("Name", "string", 0, "name"), column("Holder", "string"), column("Age", "string")};
  if (kind == "Event")
    return {column("Last Seen", "string"),      column("Type", "string"),          column("Reason", "string"),
            column("Object", "string"),         column("Subobject", "string", 1),  column("Source", "string", 1),
            column("Message", "string"),        column("First Seen", "string", 1), column("Count", "string", 1),
            column("Name", "string", 1, "name")};
  return {column("Name", "string", 0, "name"), column("Age", "string")};
}

// How long ago an RFC 3339 time was ("<unknown>" when unset), as the event printer shows it.
std::string since(const Json& t) {
  if (!t.is_string() || t.get<std::string>().empty()) return "<unknown>";
  std::string s = t.get<std::string>();
  if (auto dot = s.find('.'); dot != std::string::npos) s = s.substr(0, dot) + "Z";  // MicroTime
  return human_duration(static_cast<long long>(std::time(nullptr) - parse_time(s)));
}

Json event_cells(const Json& shown) {
  // One printer for both versions, as upstream's: an events.k8s.io/v1 Event in core's names.
  const Json o = shown.value("apiVersion", "") == "events.k8s.io/v1" ? event_from_v1(shown).object : shown;
  const Json ref = o.value("involvedObject", Json::object());
  const Json series = o.value("series", Json());
  std::string kind = ref.value("kind", "");
  for (auto& c : kind) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const Json source = o.value("source", Json::object());
  std::string from = source.value("component", "");
  if (!source.value("host", "").empty()) from += ", " + source.value("host", "");
  if (from.empty()) from = o.value("reportingComponent", "");
  const Json last = series.is_object()                             ? series.value("lastObservedTime", Json())
                    : o.value("lastTimestamp", Json()).is_string() ? o.value("lastTimestamp", Json())
                                                                   : o.value("eventTime", Json());
  const Json first = o.value("firstTimestamp", Json()).is_string() ? o.value("firstTimestamp", Json()) : o.value("eventTime", Json());
  const long long count = series.is_object() ? series.value("count", 0LL) : o.value("count", 0LL);
  return {since(last),
          o.value("type", ""),
          o.value("reason", ""),
          kind + "/" + ref.value("name", ""),
          ref.value("fieldPath", ""),
          from,
          o.value("message", ""),
          since(first),
          std::to_string(count),
          o["metadata"].value("name", "")};
}

Json cells_for(const std::string& kind, const Json& o) {
  const Json& meta = o["metadata"];
  const Json spec = o.value("spec", Json::object());
  const Json status = o.value("status", Json::object());
  const std::string name = meta.value("name", "");
  if (auto apps = apps_cells(kind, o, age(o))) return *apps;
  if (auto config = config_cells(kind, o, age(o))) return *config;
  if (auto policy = policy_cells(kind, o, age(o))) return *policy;
  if (auto batch = batch_cells(kind, o, age(o))) return *batch;
  if (auto sts = statefulset_cells(kind, o, age(o))) return *sts;
  if (auto storage = storage_cells(kind, o, age(o))) return *storage;
  if (kind == "Namespace") return {name, status.value("phase", "Active"), age(o)};
  if (kind == "Pod") {
    const PodPrintout printed =
        print_pod(o, [](const std::string& t) { return human_duration(static_cast<long long>(std::time(nullptr) - parse_time(t))); });
    return {
        name, printed.ready, printed.status, printed.restarts, age(o), status.value("podIP", "<none>"), spec.value("nodeName", "<none>")};
  }
  if (kind == "Service") {
    const std::string type = spec.value("type", "ClusterIP");
    std::vector<std::string> ports;
    for (const auto& p : spec.value("ports", Json::array())) {
      const int node_port = p.value("nodePort", 0);
      ports.push_back(node_port ? fmt::format("{}:{}/{}", p.value("port", 0), node_port, p.value("protocol", "TCP"))
                                : fmt::format("{}/{}", p.value("port", 0), p.value("protocol", "TCP")));
    }
    std::vector<std::string> external = spec.value("externalIPs", std::vector<std::string>{});
    std::string external_ip;
    if (type == "ExternalName")
      external_ip = spec.value("externalName", "");
    else if (type == "LoadBalancer") {
      for (const auto& i : status.value("loadBalancer", Json::object()).value("ingress", Json::array()))
        external.push_back(i.contains("ip") ? i.value("ip", "") : i.value("hostname", ""));
      external_ip = external.empty() ? "<pending>" : join(external);
    } else
      external_ip = external.empty() ? "<none>" : join(external);
    std::vector<std::string> selector;
    const Json selector_map = spec.value("selector", Json::object());
    for (auto it = selector_map.begin(); it != selector_map.end(); ++it) selector.push_back(it.key() + "=" + it->get<std::string>());
    return {name,
            type,
            spec.value("clusterIP", "<none>"),
            external_ip,
            ports.empty() ? "<none>" : join(ports),
            age(o),
            selector.empty() ? "<none>" : join(selector)};
  }
  if (kind == "Endpoints") {
    std::vector<std::string> eps;
    for (const auto& s : o.value("subsets", Json::array()))
      for (const auto& a : s.value("addresses", Json::array()))
        for (const auto& p : s.value("ports", Json::array())) eps.push_back(fmt::format("{}:{}", a.value("ip", ""), p.value("port", 0)));
    return {name, first_three(eps), age(o)};
  }
  if (kind == "EndpointSlice") {
    std::vector<std::string> ports, addresses;
    for (const auto& p : o.value("ports", Json::array()))
      ports.push_back(p.contains("port") ? std::to_string(p.value("port", 0)) : "<unset>");
    for (const auto& e : o.value("endpoints", Json::array()))
      for (const auto& a : e.value("addresses", Json::array())) addresses.push_back(a.get<std::string>());
    return {name, o.value("addressType", ""), ports.empty() ? "<unset>" : join(ports), first_three(addresses), age(o)};
  }
  if (kind == "Node") {
    std::string ready = "Unknown";
    for (const auto& c : status.value("conditions", Json::array()))
      if (c.value("type", "") == "Ready") ready = c.value("status", "") == "True" ? "Ready" : "NotReady";
    if (spec.value("unschedulable", false)) ready += ",SchedulingDisabled";
    std::vector<std::string> roles;
    const Json labels = meta.value("labels", Json::object());
    for (auto it = labels.begin(); it != labels.end(); ++it)
      if (it.key().starts_with("node-role.kubernetes.io/")) roles.push_back(it.key().substr(24));
    std::string internal_ip = "<none>", external_ip = "<none>";
    for (const auto& a : status.value("addresses", Json::array())) {
      if (a.value("type", "") == "InternalIP") internal_ip = a.value("address", "");
      if (a.value("type", "") == "ExternalIP") external_ip = a.value("address", "");
    }
    const Json info = status.value("nodeInfo", Json::object());
    // As kube-apiserver's node printer: "<unknown>" for what the kubelet did not report.
    auto info_or_unknown = [&](const char* key) {
      const std::string v = info.value(key, "");
      return v.empty() ? std::string("<unknown>") : v;
    };
    return {name,
            ready,
            roles.empty() ? "<none>" : join(roles),
            age(o),
            info.value("kubeletVersion", ""),
            internal_ip,
            external_ip,
            info_or_unknown("osImage"),
            info_or_unknown("kernelVersion"),
            info_or_unknown("containerRuntimeVersion")};
  }
  if (kind == "Event") return event_cells(o);
  if (kind == "Lease") {
    const std::string holder = spec.value("holderIdentity", "");
    return {name, holder, age(o)};
  }
  return {name, age(o)};
}

Json row(const ResourceInfo& r, const Json& obj, bool include_object) {
  Json row = {{"cells", cells_for(r.kind, obj)}};
  if (include_object)
    row["object"] = obj;
  else
    row["object"] = {{"kind", "PartialObjectMetadata"}, {"apiVersion", "meta.k8s.io/v1"}, {"metadata", obj["metadata"]}};
  return row;
}

}  // namespace

Json to_table(const ResourceInfo& r, const Json& object_or_list, bool include_object) {
  Json table = {{"kind", "Table"},
                {"apiVersion", "meta.k8s.io/v1"},
                {"metadata", Json::object()},
                {"columnDefinitions", columns_for(r.kind)},
                {"rows", Json::array()}};
  if (object_or_list.contains("items")) {
    table["metadata"] = object_or_list["metadata"];
    for (const auto& item : object_or_list["items"]) table["rows"].push_back(row(r, item, include_object));
  } else {
    table["metadata"]["resourceVersion"] = object_or_list["metadata"].value("resourceVersion", "");
    table["rows"].push_back(row(r, object_or_list, include_object));
  }
  return table;
}

}  // namespace switchyard::apiserver
