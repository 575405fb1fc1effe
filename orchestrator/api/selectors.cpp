#include "orchestrator/api/selectors.h"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

#include "orchestrator/api/names.h"

namespace switchyard::api {

namespace {

bool parse_int(std::string_view s, std::int64_t& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size() && !s.empty();
}

std::string_view op_text(SelectorOperator op) {
  switch (op) {
    case SelectorOperator::Equals: return "=";
    case SelectorOperator::NotEquals: return "!=";
    case SelectorOperator::In: return " in ";
    case SelectorOperator::NotIn: return " notin ";
    case SelectorOperator::GreaterThan: return ">";
    case SelectorOperator::LessThan: return "<";
    default: return "";
  }
}

// A small lexer for the label selector grammar of k8s.io/apimachinery/pkg/labels.
class SelectorParser {
 public:
  explicit SelectorParser(std::string_view text) : s_(text) {}

  Result<std::vector<LabelRequirement>> run() {
    std::vector<LabelRequirement> out;
    skip_space();
    if (at_end()) return out;
    while (true) {
      auto r = requirement();
      if (!r) return std::unexpected(r.error());
      out.push_back(std::move(*r));
      skip_space();
      if (at_end()) break;
      if (s_[pos_] != ',') return fail(ErrorCode::Invalid, error("expected ',' or the end"));
      ++pos_;
      skip_space();
      if (at_end()) return fail(ErrorCode::Invalid, error("expected a requirement after ','"));
    }
    return out;
  }

 private:
  Result<LabelRequirement> requirement() {
    LabelRequirement r;
    bool negated = false;
    if (s_[pos_] == '!') {
      negated = true;
      ++pos_;
      skip_space();
    }
    r.key = identifier();
    if (r.key.empty()) return fail(ErrorCode::Invalid, error("expected a label key"));
    if (auto p = qualified_name(r.key); !p.empty()) return fail(ErrorCode::Invalid, fmt::format("invalid label key \"{}\": {}", r.key, p[0]));
    skip_space();
    if (negated) {
      r.op = SelectorOperator::DoesNotExist;
      return r;
    }
    if (at_end() || s_[pos_] == ',') {
      r.op = SelectorOperator::Exists;
      return r;
    }
    if (s_.substr(pos_).starts_with("==")) r.op = SelectorOperator::Equals, pos_ += 2;
    else if (s_.substr(pos_).starts_with("!=")) r.op = SelectorOperator::NotEquals, pos_ += 2;
    else if (s_[pos_] == '=') r.op = SelectorOperator::Equals, pos_ += 1;
    else if (s_[pos_] == '>') r.op = SelectorOperator::GreaterThan, pos_ += 1;
    else if (s_[pos_] == '<') r.op = SelectorOperator::LessThan, pos_ += 1;
    else {
      std::string word = identifier();
      if (word == "in") r.op = SelectorOperator::In;
      else if (word == "notin") r.op = SelectorOperator::NotIn;
      else return fail(ErrorCode::Invalid, error("expected one of '=', '==', '!=', 'in', 'notin', '>', '<'"));
    }
    skip_space();
    if (r.op == SelectorOperator::In || r.op == SelectorOperator::NotIn) {
      if (at_end() || s_[pos_] != '(') return fail(ErrorCode::Invalid, error("expected '('"));
      ++pos_;
      for (bool first = true;; first = false) {
        skip_space();
        std::string v = identifier();
        skip_space();
        const bool empty_set = first && v.empty() && !at_end() && s_[pos_] == ')';  // "in ()"
        if (!empty_set) r.values.push_back(v);
        if (at_end()) return fail(ErrorCode::Invalid, error("expected ')'"));
        if (s_[pos_] == ')') {
          ++pos_;
          break;
        }
        if (s_[pos_] != ',') return fail(ErrorCode::Invalid, error("expected ',' or ')' in the value set"));
        ++pos_;
      }
      if (r.values.empty()) return fail(ErrorCode::Invalid, fmt::format("for 'in', 'notin' operators, values set can't be empty (key \"{}\")", r.key));
    } else {
      r.values.push_back(identifier());
    }
    for (const auto& v : r.values)
      if (auto p = label_value(v); !p.empty()) return fail(ErrorCode::Invalid, fmt::format("invalid label value \"{}\": {}", v, p[0]));
    if (r.op == SelectorOperator::GreaterThan || r.op == SelectorOperator::LessThan) {
      std::int64_t n;
      if (!parse_int(r.values[0], n)) return fail(ErrorCode::Invalid, fmt::format("for 'Gt', 'Lt' operators, the value must be an integer (key \"{}\")", r.key));
    }
    std::sort(r.values.begin(), r.values.end());
    r.values.erase(std::unique(r.values.begin(), r.values.end()), r.values.end());
    return r;
  }

  std::string identifier() {
    std::size_t start = pos_;
    while (!at_end() && !is_special(s_[pos_])) ++pos_;
    return std::string(s_.substr(start, pos_ - start));
  }
  static bool is_special(char c) {
    return c == ' ' || c == '\t' || c == ',' || c == '=' || c == '!' || c == '(' || c == ')' || c == '<' || c == '>';
  }
  void skip_space() {
    while (!at_end() && (s_[pos_] == ' ' || s_[pos_] == '\t')) ++pos_;
  }
  bool at_end() const { return pos_ >= s_.size(); }
  std::string error(std::string_view what) const {
    return fmt::format("unable to parse requirement at position {} of \"{}\": {}", pos_, s_, what);
  }

  std::string_view s_;
  std::size_t pos_ = 0;
};

}  // namespace

bool LabelRequirement::matches(const StringMap& labels) const {
  auto it = labels.find(key);
  const bool has = it != labels.end();
  switch (op) {
    case SelectorOperator::Exists: return has;
    case SelectorOperator::DoesNotExist: return !has;
    case SelectorOperator::Equals:
    case SelectorOperator::In:
      return has && std::binary_search(values.begin(), values.end(), it->second);
    case SelectorOperator::NotEquals:
    case SelectorOperator::NotIn:
      return !has || !std::binary_search(values.begin(), values.end(), it->second);
    case SelectorOperator::GreaterThan:
    case SelectorOperator::LessThan: {
      std::int64_t have, want;
      if (!has || !parse_int(it->second, have) || !parse_int(values[0], want)) return false;
      return op == SelectorOperator::GreaterThan ? have > want : have < want;
    }
  }
  return false;
}

std::string LabelRequirement::to_string() const {
  switch (op) {
    case SelectorOperator::Exists: return key;
    case SelectorOperator::DoesNotExist: return "!" + key;
    case SelectorOperator::In:
    case SelectorOperator::NotIn: return fmt::format("{}{}({})", key, op_text(op), fmt::join(values, ","));
    default: return fmt::format("{}{}{}", key, op_text(op), values.empty() ? "" : values[0]);
  }
}

LabelSelector LabelSelector::nothing() {
  LabelSelector s;
  s.nothing_ = true;
  return s;
}

Result<LabelSelector> LabelSelector::parse(std::string_view text) {
  auto reqs = SelectorParser(text).run();
  if (!reqs) return std::unexpected(reqs.error());
  LabelSelector s;
  s.requirements_ = std::move(*reqs);
  return s;
}

LabelSelector LabelSelector::from_map(const StringMap& match_labels) {
  LabelSelector s;
  for (const auto& [k, v] : match_labels) s.requirements_.push_back({k, SelectorOperator::Equals, {v}});
  return s;
}

std::expected<LabelSelector, FieldErrors> LabelSelector::from_api(const StringMap& match_labels,
                                                                  const std::vector<LabelSelectorExpression>& expressions,
                                                                  const FieldPath& path) {
  FieldErrors errs;
  LabelSelector s;
  for (const auto& [k, v] : match_labels) {
    for (auto& p : qualified_name(k)) errs.push_back(invalid(path.child("matchLabels"), go_quoted(k), p));
    for (auto& p : label_value(v)) errs.push_back(invalid(path.child("matchLabels"), go_quoted(v), p));
    s.requirements_.push_back({k, SelectorOperator::Equals, {v}});
  }
  for (std::size_t i = 0; i < expressions.size(); ++i) {
    const auto& e = expressions[i];
    const FieldPath ep = path.child("matchExpressions").index(i);
    LabelRequirement r{e.key, SelectorOperator::Exists, e.values};
    if (e.op == "In" || e.op == "NotIn") {
      r.op = e.op == "In" ? SelectorOperator::In : SelectorOperator::NotIn;
      if (e.values.empty()) errs.push_back(required(ep.child("values"), "must be specified when `operator` is 'In' or 'NotIn'"));
    } else if (e.op == "Exists" || e.op == "DoesNotExist") {
      r.op = e.op == "Exists" ? SelectorOperator::Exists : SelectorOperator::DoesNotExist;
      if (!e.values.empty()) errs.push_back(forbidden(ep.child("values"), "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"));
    } else {
      errs.push_back(invalid(ep.child("operator"), go_quoted(e.op), "not a valid selector operator"));
    }
    for (auto& p : qualified_name(e.key)) errs.push_back(invalid(ep.child("key"), go_quoted(e.key), p));
    std::sort(r.values.begin(), r.values.end());
    s.requirements_.push_back(std::move(r));
  }
  if (!errs.empty()) return std::unexpected(std::move(errs));
  return s;
}

bool LabelSelector::matches(const StringMap& labels) const {
  if (nothing_) return false;
  for (const auto& r : requirements_)
    if (!r.matches(labels)) return false;
  return true;
}

std::string LabelSelector::to_string() const {
  std::vector<std::string> parts;
  for (const auto& r : requirements_) parts.push_back(r.to_string());
  return fmt::format("{}", fmt::join(parts, ","));
}

Result<FieldSelector> FieldSelector::parse(std::string_view text,
                                                               const std::vector<std::string_view>& supported) {
  FieldSelector sel;
  // Split on unescaped commas, then on the first unescaped operator.
  std::vector<std::string> terms(1);
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\\' && i + 1 < text.size()) {
      terms.back() += text[i];
      terms.back() += text[++i];
    } else if (text[i] == ',') {
      terms.emplace_back();
    } else {
      terms.back() += text[i];
    }
  }
  for (const auto& term : terms) {
    if (term.empty()) continue;
    FieldRequirement r;
    std::size_t op = std::string::npos, op_len = 0;
    for (std::size_t i = 0; i < term.size(); ++i) {
      if (term[i] == '\\') {
        ++i;
        continue;
      }
      if (term.compare(i, 2, "!=") == 0) op = i, op_len = 2, r.negated = true;
      else if (term.compare(i, 2, "==") == 0) op = i, op_len = 2;
      else if (term[i] == '=') op = i, op_len = 1;
      if (op != std::string::npos) break;
    }
    if (op == std::string::npos) return fail(ErrorCode::Invalid, fmt::format("invalid selector: '{}'; can't understand '{}'", text, term));
    r.field = term.substr(0, op);
    std::string raw = term.substr(op + op_len);
    for (std::size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '\\' && i + 1 < raw.size()) {
        char next = raw[i + 1];
        if (next != ',' && next != '=' && next != '\\')
          return fail(ErrorCode::Invalid, fmt::format("invalid selector: '{}'; invalid escape sequence '\\{}'", text, next));
        r.value += next;
        ++i;
      } else {
        r.value += raw[i];
      }
    }
    if (std::find(supported.begin(), supported.end(), r.field) == supported.end())
      return fail(ErrorCode::Invalid, fmt::format("field label not supported: {}", r.field));
    sel.requirements_.push_back(std::move(r));
  }
  return sel;
}

bool FieldSelector::matches(const StringMap& fields) const {
  for (const auto& r : requirements_) {
    auto it = fields.find(r.field);
    const std::string have = it == fields.end() ? "" : it->second;
    if ((have == r.value) == r.negated) return false;
  }
  return true;
}

StringMap object_meta_fields(const ObjectMeta& m, bool namespaced) {
  StringMap f{{"metadata.name", m.name}};
  if (namespaced) f["metadata.namespace"] = m.namespace_;
  return f;
}

}  // namespace switchyard::api
