#include "orchestrator/apiserver/request_attributes.h"

#include <algorithm>
#include <cctype>
#include <optional>
#include <vector>

#include <fmt/format.h>

namespace switchyard::apiserver {

namespace {

std::vector<std::string> split(std::string_view p, char sep) {
  std::vector<std::string> out;
  while (!p.empty()) {
    const auto at = p.find(sep);
    if (at != 0) out.emplace_back(p.substr(0, at));
    if (at == std::string_view::npos) break;
    p.remove_prefix(at + 1);
  }
  return out;
}

// %XX escapes of a query value (a bad escape is left as written: this only classifies).
std::string unescape(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') {
      out += ' ';
    } else if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
               std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// The first value of a query parameter, or nullopt.
std::optional<std::string> query_value(std::string_view query, std::string_view key) {
  for (const auto& pair : split(query, '&')) {
    const auto eq = pair.find('=');
    if (unescape(std::string_view(pair).substr(0, eq)) == key)
      return eq == std::string::npos ? "" : unescape(std::string_view(pair).substr(eq + 1));
  }
  return std::nullopt;
}

// The name a field selector pins with metadata.name=N or metadata.name==N, as RequiresExactMatch.
std::string exact_name(std::string_view selector) {
  for (const auto& term : split(selector, ',')) {
    for (std::string_view prefix : {"metadata.name==", "metadata.name="})
      if (term.starts_with(prefix)) return term.substr(prefix.size());
  }
  return {};
}

}  // namespace

RequestAttributes request_attributes(std::string_view method, std::string_view target) {
  RequestAttributes a;
  const auto qpos = target.find('?');
  const std::string_view path = target.substr(0, qpos), query = qpos == std::string_view::npos ? "" : target.substr(qpos + 1);
  a.path = std::string(path);
  std::string lower(method);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  a.verb = lower;

  auto parts = split(path, '/');
  if (parts.size() < 3 || (parts[0] != "api" && parts[0] != "apis")) return a;
  std::size_t at = 1;
  if (parts[0] == "apis") {
    if (parts.size() < 4) return a;
    a.api_group = parts[at++];
  }
  a.resource_request = true;
  a.api_version = parts[at++];
  std::vector<std::string> rest(parts.begin() + static_cast<long>(at), parts.end());
  if (!rest.empty() && (rest[0] == "watch" || rest[0] == "proxy")) {
    a.verb = rest[0];
    rest.erase(rest.begin());
  } else if (method == "POST") {
    a.verb = "create";
  } else if (method == "GET" || method == "HEAD") {
    a.verb = "get";
  } else if (method == "PUT") {
    a.verb = "update";
  } else if (method == "PATCH") {
    a.verb = "patch";
  } else if (method == "DELETE") {
    a.verb = "delete";
  } else {
    a.verb = "";
  }
  // /namespaces/NS/RESOURCE/...: the namespace, then the parts relative to the resource (but
  // /namespaces/NS/status and /finalize are subresources of the namespace itself).
  if (!rest.empty() && rest[0] == "namespaces" && rest.size() > 1) {
    a.ns = rest[1];
    if (rest.size() > 2 && rest[2] != "status" && rest[2] != "finalize") rest.erase(rest.begin(), rest.begin() + 2);
  }
  if (rest.size() >= 3 && a.verb != "proxy") a.subresource = rest[2];
  if (rest.size() >= 2) a.name = rest[1];
  if (!rest.empty()) a.resource = rest[0];

  if (a.name.empty() && a.verb == "get") {
    const auto watch = query_value(query, "watch");
    // An unparseable value still means watch, as upstream's fallback: only false forms do not.
    static const std::vector<std::string_view> kFalse = {"0", "f", "F", "FALSE", "false", "False"};
    const bool is_watch = watch && !watch->empty() && std::find(kFalse.begin(), kFalse.end(), *watch) == kFalse.end();
    a.verb = is_watch ? "watch" : "list";
    if (auto selector = query_value(query, "fieldSelector")) {
      const std::string name = exact_name(*selector);
      if (!name.empty() && name != "." && name != ".." && name.find_first_of("/%") == std::string::npos) a.name = name;
    }
  }
  if (a.name.empty() && a.verb == "delete") a.verb = "deletecollection";
  return a;
}

std::string forbidden_message(std::string_view user, const RequestAttributes& a, std::string_view reason) {
  std::string msg;
  if (!a.resource_request) {
    msg = fmt::format("User \"{}\" cannot {} path \"{}\"", user, a.verb, a.path);
  } else {
    const std::string resource = a.subresource.empty() ? a.resource : a.resource + "/" + a.subresource;
    msg = a.ns.empty() ? fmt::format("User \"{}\" cannot {} resource \"{}\" in API group \"{}\" at the cluster scope", user, a.verb,
                                     resource, a.api_group)
                       : fmt::format("User \"{}\" cannot {} resource \"{}\" in API group \"{}\" in the namespace \"{}\"", user, a.verb,
                                     resource, a.api_group, a.ns);
  }
  if (!reason.empty()) msg += fmt::format(": {}", reason);
  return msg;
}

}  // namespace switchyard::apiserver
