#include "kubelet/pods/pod_events.h"

#include <chrono>
#include <ctime>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "orchestrator/client/resources.h"
#include "orchestrator/client/rest.h"

namespace switchyard::kubelet {

Result<> post_pod_event(client::ApiClient& api, const api::Pod& pod, const std::string& node_name, const std::string& field_path,
                        const std::string& type, const std::string& reason, const std::string& message) {
  const std::string now = fmt::format("{:%Y-%m-%dT%H:%M:%SZ}", fmt::gmtime(std::time(nullptr)));
  nlohmann::json involved = {{"apiVersion", "v1"},        {"kind", "Pod"},           {"namespace", pod.metadata.namespace_},
                             {"name", pod.metadata.name}, {"uid", pod.metadata.uid}, {"resourceVersion", pod.metadata.resource_version}};
  if (!field_path.empty()) involved["fieldPath"] = field_path;
  const nlohmann::json event = {
      {"apiVersion", "v1"},
      {"kind", "Event"},
      // Named as client-go's recorder names Events: the object's name and a hex timestamp.
      {"metadata",
       {{"name", fmt::format("{}.{:x}", pod.metadata.name, std::chrono::system_clock::now().time_since_epoch().count())},
        {"namespace", pod.metadata.namespace_}}},
      {"involvedObject", involved},
      {"reason", reason},
      {"message", message},
      {"type", type},
      {"count", 1},
      {"firstTimestamp", now},
      {"lastTimestamp", now},
      {"source", {{"component", "kubelet"}, {"host", node_name}}},
      {"reportingComponent", "kubelet"},
      {"reportingInstance", node_name}};
  auto created = client::create_object(api, client::collection_path<api::Event>(pod.metadata.namespace_), event);
  if (!created) return fail(created.error());
  return {};
}

}  // namespace switchyard::kubelet
