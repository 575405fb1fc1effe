// batch/v1 validation with kube-apiserver's field paths and messages
// (pkg/apis/batch/validation/validation.go and the Job and CronJob registries' strategies).
#include <set>

#include <fmt/format.h>

#include "orchestrator/api/cron_schedule.h"
#include "orchestrator/api/names.h"
#include "orchestrator/api/pod_failure_policy.h"
#include "orchestrator/api/selectors.h"
#include "orchestrator/api/validation.h"

namespace switchyard::api {

namespace {

constexpr std::int32_t kMaxIndexedJobCompletions = 100000;
constexpr std::int32_t kMaxIndexedJobParallelism = 100000;
constexpr std::size_t kMaxPodFailurePolicyRules = 20;
constexpr std::size_t kMaxPodFailurePolicyOnExitCodesValues = 255;
constexpr std::size_t kMaxPodFailurePolicyOnPodConditionsPatterns = 20;

void nonnegative(FieldErrors& errs, const FieldPath& p, std::optional<std::int64_t> v) {
  if (v && *v < 0) errs.push_back(invalid(p, rendered(*v), "must be greater than or equal to 0"));
}

std::optional<LabelSelector> parse_selector(const LabelSelectorSpec& s, const FieldPath& p, FieldErrors* errs) {
  std::vector<LabelSelectorExpression> exprs;
  for (const auto& e : s.match_expressions) exprs.push_back({e.key, e.operator_, e.values});
  auto parsed = LabelSelector::from_api(s.match_labels, exprs, p);
  if (!parsed) {
    if (errs) errs->insert(errs->end(), parsed.error().begin(), parsed.error().end());
    return std::nullopt;
  }
  return std::move(*parsed);
}

// The pod template, validated as a Pod would be, under `path`; a Job's pods never restart Always.
void validate_job_template(FieldErrors& errs, const PodTemplateSpec& t, const FieldPath& path, bool has_failure_policy) {
  Pod pod;
  pod.metadata = t.metadata;
  pod.metadata.name = "template";
  pod.metadata.namespace_ = "default";
  pod.metadata.generate_name.clear();
  pod.spec = t.spec;
  for (FieldError e : validate(pod)) {
    if (e.field.starts_with("status")) continue;
    e.field = path.str() + "." + e.field;
    errs.push_back(std::move(e));
  }
  const FieldPath rp = path.child("spec").child("restartPolicy");
  if (has_failure_policy && t.spec.restart_policy != "Never")
    errs.push_back(invalid(rp, go_quoted(t.spec.restart_policy), "only \"Never\" is supported when podFailurePolicy is specified"));
  else if (t.spec.restart_policy != "OnFailure" && t.spec.restart_policy != "Never")
    errs.push_back(not_supported(rp, go_quoted(t.spec.restart_policy), {"OnFailure", "Never"}));
}

std::string go_int32_slice(const std::vector<std::int32_t>& v) {
  std::string out = "[]int32{";
  for (std::size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + std::to_string(v[i]);
  return out + "}";
}

void validate_on_exit_codes(FieldErrors& errs, const PodFailurePolicyOnExitCodesRequirement& e, const FieldPath& p,
                            const std::set<std::string>& container_names) {
  const FieldPath op = p.child("operator");
  if (e.operator_.empty())
    errs.push_back(required(op, R"(valid values: ["In" "NotIn"])"));
  else if (e.operator_ != "In" && e.operator_ != "NotIn")
    errs.push_back(not_supported(op, go_quoted(e.operator_), {"In", "NotIn"}));
  if (e.container_name && !container_names.contains(*e.container_name))
    errs.push_back(invalid(p.child("containerName"), go_quoted(*e.container_name),
                           "must be one of the container or initContainer names in the pod template"));
  const FieldPath vp = p.child("values");
  if (e.values.empty())
    errs.push_back(invalid(vp, go_int32_slice(e.values), "at least one value is required"));
  else if (e.values.size() > kMaxPodFailurePolicyOnExitCodesValues)
    errs.push_back(too_many(vp, e.values.size(), kMaxPodFailurePolicyOnExitCodesValues));
  std::set<std::int32_t> seen;
  bool ordered = true;
  for (std::size_t j = 0; j < e.values.size(); ++j) {
    const std::int32_t v = e.values[j];
    if (e.operator_ == "In" && v == 0) errs.push_back(invalid(vp.index(j), rendered(v), "must not be 0 for the In operator"));
    if (!seen.insert(v).second) errs.push_back(duplicate(vp.index(j), rendered(v)));
    if (j > 0 && e.values[j - 1] > v) ordered = false;
  }
  if (!ordered) errs.push_back(invalid(vp, go_int32_slice(e.values), "must be ordered"));
}

// validatePodFailurePolicy: the actions, operators and statuses upstream supports, in its order.
void validate_pod_failure_policy(FieldErrors& errs, const JobSpec& s, const PodFailurePolicy& policy, const FieldPath& p) {
  const auto& rules = policy.rules;
  const FieldPath rp = p.child("rules");
  if (rules.size() > kMaxPodFailurePolicyRules) errs.push_back(too_many(rp, rules.size(), kMaxPodFailurePolicyRules));
  std::set<std::string> names;
  for (const auto& c : s.template_.spec.containers) names.insert(c.name);
  for (const auto& c : s.template_.spec.init_containers) names.insert(c.name);
  for (std::size_t i = 0; i < rules.size(); ++i) {
    const auto& rule = rules[i];
    const FieldPath rule_path = rp.index(i), action = rule_path.child("action");
    if (rule.action.empty())
      errs.push_back(required(action, R"(valid values: ["Count" "FailIndex" "FailJob" "Ignore"])"));
    else if (rule.action == "FailIndex" && !s.backoff_limit_per_index)
      errs.push_back(invalid(action, go_quoted(rule.action), "requires the backoffLimitPerIndex to be set"));
    else if (rule.action != "Count" && rule.action != "FailIndex" && rule.action != "FailJob" && rule.action != "Ignore")
      errs.push_back(not_supported(action, go_quoted(rule.action), {"Count", "FailIndex", "FailJob", "Ignore"}));
    if (rule.on_exit_codes) validate_on_exit_codes(errs, *rule.on_exit_codes, rule_path.child("onExitCodes"), names);
    if (!rule.on_pod_conditions.empty()) {
      const FieldPath cp = rule_path.child("onPodConditions");
      if (rule.on_pod_conditions.size() > kMaxPodFailurePolicyOnPodConditionsPatterns)
        errs.push_back(too_many(cp, rule.on_pod_conditions.size(), kMaxPodFailurePolicyOnPodConditionsPatterns));
      for (std::size_t j = 0; j < rule.on_pod_conditions.size(); ++j) {
        const auto& pattern = rule.on_pod_conditions[j];
        for (const auto& msg : qualified_name(pattern.type))
          errs.push_back(invalid(cp.index(j).child("type"), go_quoted(pattern.type), msg));
        const FieldPath sp = cp.index(j).child("status");
        if (pattern.status.empty())
          errs.push_back(required(sp, R"(valid values: ["False" "True" "Unknown"])"));
        else if (pattern.status != "False" && pattern.status != "True" && pattern.status != "Unknown")
          errs.push_back(not_supported(sp, go_quoted(pattern.status), {"False", "True", "Unknown"}));
      }
    }
    if (rule.on_exit_codes && !rule.on_pod_conditions.empty())
      errs.push_back(invalid(rule_path, "", "specifying both OnExitCodes and OnPodConditions is not supported"));
    if (!rule.on_exit_codes && rule.on_pod_conditions.empty())
      errs.push_back(invalid(rule_path, "", "specifying one of OnExitCodes and OnPodConditions is required"));
  }
}

// validateJobSpec: what a Job and a CronJob's job template share.
void validate_job_spec(FieldErrors& errs, const JobSpec& s, const FieldPath& p) {
  nonnegative(errs, p.child("parallelism"), s.parallelism);
  nonnegative(errs, p.child("completions"), s.completions);
  nonnegative(errs, p.child("activeDeadlineSeconds"), s.active_deadline_seconds);
  nonnegative(errs, p.child("backoffLimit"), s.backoff_limit);
  nonnegative(errs, p.child("ttlSecondsAfterFinished"), s.ttl_seconds_after_finished);
  if (s.completion_mode) {
    const std::string& mode = *s.completion_mode;
    if (mode != "NonIndexed" && mode != "Indexed")
      errs.push_back(not_supported(p.child("completionMode"), go_quoted(mode), {"NonIndexed", "Indexed"}));
    if (mode == "Indexed") {
      if (!s.completions) errs.push_back(required(p.child("completions"), "when completion mode is Indexed"));
      if (s.parallelism && *s.parallelism > kMaxIndexedJobParallelism)
        errs.push_back(invalid(p.child("parallelism"), rendered(*s.parallelism),
                               fmt::format("must be less than or equal to {} when completion mode is Indexed", kMaxIndexedJobParallelism)));
      if (s.completions && *s.completions > kMaxIndexedJobCompletions)
        errs.push_back(invalid(p.child("completions"), rendered(*s.completions),
                               fmt::format("must be less than or equal to {} when completion mode is Indexed", kMaxIndexedJobCompletions)));
    }
  }
  if (s.backoff_limit_per_index) {
    nonnegative(errs, p.child("backoffLimitPerIndex"), s.backoff_limit_per_index);
    if (s.completion_mode.value_or("NonIndexed") != "Indexed")
      errs.push_back(forbidden(p.child("backoffLimitPerIndex"), "requires indexed completion mode"));
  }
  if (s.max_failed_indexes && !s.backoff_limit_per_index)
    errs.push_back(required(p.child("backoffLimitPerIndex"), "when maxFailedIndexes is specified"));
  const auto policy = pod_failure_policy(s);
  if (policy) validate_pod_failure_policy(errs, s, *policy, p.child("podFailurePolicy"));
  if (s.pod_replacement_policy && policy && *s.pod_replacement_policy != "Failed")
    errs.push_back(not_supported(p.child("podReplacementPolicy"), go_quoted(*s.pod_replacement_policy), {"Failed"}));
  else if (s.pod_replacement_policy && *s.pod_replacement_policy != "TerminatingOrFailed" && *s.pod_replacement_policy != "Failed")
    errs.push_back(not_supported(p.child("podReplacementPolicy"), go_quoted(*s.pod_replacement_policy), {"Failed", "TerminatingOrFailed"}));
  validate_job_template(errs, s.template_, p.child("template"), policy.has_value());
}

// ValidateHasLabel.
void has_label(FieldErrors& errs, const ObjectMeta& m, const FieldPath& p, const char* key, const std::string& want) {
  const FieldPath lp = p.child("labels").key(key);
  auto it = m.labels.find(key);
  if (it == m.labels.end())
    errs.push_back(required(lp, "must be '" + want + "'"));
  else if (it->second != want)
    errs.push_back(invalid(lp, go_string_map(m.labels), "must be '" + want + "'"));
}

}  // namespace

FieldErrors validate(const Job& o) {
  FieldErrors errs = validate_object_meta(o.metadata, true, &name_is_dns1123_subdomain);
  const FieldPath spec("spec");
  const FieldPath tmeta = spec.child("template").child("metadata");
  if (!o.spec.manual_selector.value_or(false) && o.spec.selector) {
    // ValidateGeneratedSelector: the labels the registry put on the template must still be there.
    if (o.metadata.uid.empty()) errs.push_back(required(FieldPath("metadata").child("uid")));
    has_label(errs, o.spec.template_.metadata, tmeta, kLegacyJobControllerUidLabel, o.metadata.uid);
    has_label(errs, o.spec.template_.metadata, tmeta, kLegacyJobNameLabel, o.metadata.name);
    has_label(errs, o.spec.template_.metadata, tmeta, kJobControllerUidLabel, o.metadata.uid);
    has_label(errs, o.spec.template_.metadata, tmeta, kJobNameLabel, o.metadata.name);
    if (auto sel = parse_selector(*o.spec.selector, spec.child("selector"), nullptr);
        sel && !sel->matches({{kJobControllerUidLabel, o.metadata.uid}, {kJobNameLabel, o.metadata.name}}))
      errs.push_back(invalid(spec.child("selector"), "v1.LabelSelector{...}", "`selector` not auto-generated"));
  }
  validate_job_spec(errs, o.spec, spec);
  if (!o.spec.selector) {
    errs.push_back(required(spec.child("selector")));
  } else if (auto sel = parse_selector(*o.spec.selector, spec.child("selector"), &errs);
             sel && !sel->matches(o.spec.template_.metadata.labels)) {
    errs.push_back(
        invalid(tmeta.child("labels"), go_string_map(o.spec.template_.metadata.labels), "`selector` does not match template `labels`"));
  }
  const FieldPath st("status");
  nonnegative(errs, st.child("active"), o.status.active);
  nonnegative(errs, st.child("succeeded"), o.status.succeeded);
  nonnegative(errs, st.child("failed"), o.status.failed);
  return errs;
}

FieldErrors validate(const CronJob& o) {
  FieldErrors errs = validate_object_meta(o.metadata, true, &name_is_dns1123_subdomain);
  // The Jobs it creates are named NAME-<minutes since epoch>: 11 characters more, within 63.
  if (o.metadata.name.size() > 52)
    errs.push_back(invalid(FieldPath("metadata").child("name"), go_quoted(o.metadata.name), "must be no more than 52 characters"));
  const FieldPath spec("spec");
  const auto& s = o.spec;
  if (s.schedule.empty()) {
    errs.push_back(required(spec.child("schedule")));
  } else if (s.schedule.find("TZ") != std::string::npos) {
    errs.push_back(
        invalid(spec.child("schedule"), go_quoted(s.schedule), "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"));
  } else if (auto parsed = CronSchedule::parse(s.schedule); !parsed) {
    errs.push_back(invalid(spec.child("schedule"), go_quoted(s.schedule), parsed.error().message));
  }
  if (s.time_zone) {
    const FieldPath tz = spec.child("timeZone");
    if (s.time_zone->empty())
      errs.push_back(invalid(tz, go_quoted(*s.time_zone), "timeZone must be nil or non-empty string"));
    else if (*s.time_zone == "Local" || *s.time_zone == "local")
      errs.push_back(
          invalid(tz, go_quoted(*s.time_zone), "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones"));
    else if (auto ok = check_time_zone(*s.time_zone); !ok)
      errs.push_back(invalid(tz, go_quoted(*s.time_zone), ok.error().message));
  }
  nonnegative(errs, spec.child("startingDeadlineSeconds"), s.starting_deadline_seconds);
  const FieldPath cp = spec.child("concurrencyPolicy");
  if (s.concurrency_policy.empty())
    errs.push_back(required(cp));
  else if (s.concurrency_policy != "Allow" && s.concurrency_policy != "Forbid" && s.concurrency_policy != "Replace")
    errs.push_back(not_supported(cp, go_quoted(s.concurrency_policy), {"Allow", "Forbid", "Replace"}));
  nonnegative(errs, spec.child("successfulJobsHistoryLimit"), s.successful_jobs_history_limit);
  nonnegative(errs, spec.child("failedJobsHistoryLimit"), s.failed_jobs_history_limit);
  const FieldPath jt = spec.child("jobTemplate");
  validate_job_spec(errs, s.job_template.spec, jt.child("spec"));
  if (s.job_template.spec.selector)
    errs.push_back(invalid(jt.child("spec").child("selector"), "v1.LabelSelector{...}", "`selector` will be auto-generated"));
  if (s.job_template.spec.manual_selector.value_or(false))
    errs.push_back(not_supported(jt.child("spec").child("manualSelector"), "true", {"nil", "false"}));
  return errs;
}

FieldErrors validate_batch_update(const Object& o, const Object& old) {
  FieldErrors errs;
  const auto* j = std::get_if<Job>(&o);
  const auto* oj = std::get_if<Job>(&old);
  if (!j || !oj) return errs;
  const FieldPath spec("spec");
  // Completions may change only with parallelism, together, in an Indexed Job (elastic Jobs).
  const bool elastic = j->spec.completion_mode.value_or("") == "Indexed" && j->spec.completions == j->spec.parallelism;
  if (j->spec.completions != oj->spec.completions && !elastic)
    errs.push_back(invalid(spec.child("completions"), j->spec.completions ? rendered(*j->spec.completions) : "null", "field is immutable"));
  if (j->spec.selector != oj->spec.selector) errs.push_back(invalid(spec.child("selector"), "v1.LabelSelector{...}", "field is immutable"));
  if (j->spec.template_ != oj->spec.template_ && !oj->spec.suspend.value_or(false))
    errs.push_back(invalid(spec.child("template"), "core.PodTemplateSpec{...}", "field is immutable"));
  if (j->spec.completion_mode != oj->spec.completion_mode)
    errs.push_back(invalid(spec.child("completionMode"), go_quoted(j->spec.completion_mode.value_or("")), "field is immutable"));
  return errs;
}

}  // namespace switchyard::api
