// Table columns and cells of the batch/v1 kinds, as kube-apiserver's printers write them
// (pkg/printers/internalversion: printJob with its STATUS column, printCronJob).
#include <ctime>

#include <fmt/format.h>

#include "orchestrator/api/selectors.h"
#include "orchestrator/apiserver/api_handler.h"

namespace switchyard::apiserver {

namespace {

Json column(const char* name, const char* type, int priority = 0, const char* format = "") {
  return {{"name", name}, {"type", type}, {"format", format}, {"description", ""}, {"priority", priority}};
}

std::time_t parse_time(const std::string& s) {
  std::tm tm{};
  if (s.empty() || !strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm)) return 0;
  return timegm(&tm);
}

std::string format_selector(const Json& selector) {
  std::vector<api::LabelSelectorExpression> exprs;
  for (const auto& e : selector.value("matchExpressions", Json::array()))
    exprs.push_back({e.value("key", ""), e.value("operator", ""), e.value("values", std::vector<std::string>{})});
  auto parsed = api::LabelSelector::from_api(selector.value("matchLabels", api::StringMap{}), exprs, api::FieldPath("spec.selector"));
  if (!parsed) return "<error>";
  const std::string s = parsed->to_string();
  return s.empty() ? "<none>" : s;
}

std::pair<std::string, std::string> containers_and_images(const Json& pod_template) {
  std::string names, images;
  for (const auto& c : pod_template.value("spec", Json::object()).value("containers", Json::array())) {
    names += (names.empty() ? "" : ",") + c.value("name", "");
    images += (images.empty() ? "" : ",") + c.value("image", "");
  }
  return {names, images};
}

bool has_condition(const Json& status, const char* type) {
  for (const auto& c : status.value("conditions", Json::array()))
    if (c.value("type", "") == type && c.value("status", "") == "True") return true;
  return false;
}

}  // namespace

std::optional<Json> batch_columns(const std::string& kind) {
  if (kind == "Job")
    return Json{column("Name", "string", 0, "name"), column("Status", "string"),     column("Completions", "string"),
                column("Duration", "string"),        column("Age", "string"),        column("Containers", "string", 1),
                column("Images", "string", 1),       column("Selector", "string", 1)};
  if (kind == "CronJob")
    return Json{column("Name", "string", 0, "name"),
                column("Schedule", "string"),
                column("Timezone", "string"),
                column("Suspend", "boolean"),
                column("Active", "integer"),
                column("Last Schedule", "string"),
                column("Age", "string"),
                column("Containers", "string", 1),
                column("Images", "string", 1),
                column("Selector", "string", 1)};
  return std::nullopt;
}

std::optional<Json> batch_cells(const std::string& kind, const Json& o, const std::string& age) {
  const std::string name = o["metadata"].value("name", "");
  const Json spec = o.value("spec", Json::object());
  const Json status = o.value("status", Json::object());
  if (kind == "Job") {
    const int succeeded = status.value("succeeded", 0);
    std::string completions;
    if (spec.contains("completions"))
      completions = fmt::format("{}/{}", succeeded, spec.value("completions", 0));
    else if (spec.value("parallelism", 0) > 1)
      completions = fmt::format("{}/1 of {}", succeeded, spec.value("parallelism", 0));
    else
      completions = fmt::format("{}/1", succeeded);
    std::string duration;
    if (status.contains("startTime")) {
      const std::time_t start = parse_time(status.value("startTime", ""));
      const std::time_t end = status.contains("completionTime") ? parse_time(status.value("completionTime", "")) : std::time(nullptr);
      duration = human_duration(static_cast<long long>(end - start));
    }
    std::string phase = "Running";
    if (has_condition(status, "Complete"))
      phase = "Complete";
    else if (has_condition(status, "Failed"))
      phase = "Failed";
    else if (o["metadata"].contains("deletionTimestamp"))
      phase = "Terminating";
    else if (has_condition(status, "Suspended"))
      phase = "Suspended";
    else if (has_condition(status, "FailureTarget"))
      phase = "FailureTarget";
    const auto [containers, images] = containers_and_images(spec.value("template", Json::object()));
    return Json{name, phase, completions, duration, age, containers, images, format_selector(spec.value("selector", Json::object()))};
  }
  if (kind == "CronJob") {
    std::string last = "<none>";
    if (status.contains("lastScheduleTime"))
      last = human_duration(static_cast<long long>(std::time(nullptr) - parse_time(status.value("lastScheduleTime", ""))));
    std::string suspend = "<unset>";
    if (spec.contains("suspend")) suspend = spec.value("suspend", false) ? "True" : "False";
    const Json job_spec = spec.value("jobTemplate", Json::object()).value("spec", Json::object());
    const auto [containers, images] = containers_and_images(job_spec.value("template", Json::object()));
    return Json{name,
                spec.value("schedule", ""),
                spec.value("timeZone", "<none>"),
                suspend,
                static_cast<std::int64_t>(status.value("active", Json::array()).size()),
                last,
                age,
                containers,
                images,
                format_selector(job_spec.value("selector", Json::object()))};
  }
  return std::nullopt;
}

}  // namespace switchyard::apiserver
