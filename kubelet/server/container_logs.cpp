#include "kubelet/server/container_logs.h"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <thread>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "kubelet/pods/pod_config.h"
#include "kubelet/server/cri_log.h"

namespace switchyard::kubelet::server {

namespace {

constexpr auto kFollowPoll = std::chrono::milliseconds(100);
constexpr auto kRunningCheck = std::chrono::seconds(1);

bool flag(const http::QueryList& q, std::string_view name) {
  auto v = http::query_value(q, name);
  return v && *v != "0" && *v != "false" && *v != "False";
}

std::optional<std::int64_t> integer(const http::QueryList& q, std::string_view name) {
  auto v = http::query_value(q, name);
  if (!v || v->empty()) return std::nullopt;
  try {
    return std::stoll(*v);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// Reads `file` from `offset` to its end, appending to `out`; returns the new offset.
std::uint64_t read_from(const std::string& file, std::uint64_t offset, std::string& out) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return offset;
  in.seekg(static_cast<std::streamoff>(offset));
  std::string chunk((std::istreambuf_iterator<char>(in)), {});
  out += chunk;
  return offset + chunk.size();
}

bool running(cri::CriClient& cri, const std::string& id) {
  auto s = cri.container_status(id);
  return s && s->state == cri::ContainerState::Running;
}

// Writes new lines of the file as they come, on a thread of its own: ends when the client goes,
// the limit is reached, or the container is no longer running and the file has nothing more.
void follow(std::shared_ptr<cri::CriClient> cri, std::string id, std::string file, std::uint64_t offset,
            std::shared_ptr<CriLogFormatter> formatter, std::shared_ptr<http::ResponseStream> stream) {
  std::thread([=]() mutable {
    auto next_check = std::chrono::steady_clock::now() + kRunningCheck;
    while (stream->open()) {
      std::string raw, out;
      offset = read_from(file, offset, raw);
      const bool more = formatter->feed(raw, out);
      if (!out.empty() && !stream->write(std::move(out))) return;
      if (!more) break;
      if (raw.empty() && std::chrono::steady_clock::now() >= next_check) {
        next_check = std::chrono::steady_clock::now() + kRunningCheck;
        if (!running(*cri, id)) {
          std::string rest, tail;
          read_from(file, offset, rest);
          formatter->feed(rest, tail);
          if (!tail.empty()) stream->write(std::move(tail));
          break;
        }
      }
      if (raw.empty()) std::this_thread::sleep_for(kFollowPoll);
    }
    stream->finish();
  }).detach();
}

}  // namespace

http::Response status_response(int code, const std::string& reason, const std::string& message) {
  nlohmann::json status = {{"kind", "Status"},    {"apiVersion", "v1"}, {"metadata", nlohmann::json::object()},
                           {"status", "Failure"}, {"message", message}, {"reason", reason},
                           {"code", code}};
  return http::Response{code, "application/json", status.dump()};
}

http::Response container_logs(const std::shared_ptr<cri::CriClient>& cri, const std::string& ns, const std::string& pod,
                              const std::string& container, const http::QueryList& query) {
  cri::ContainerFilter filter;
  filter.label_selector = {{kubelet::kPodNamespaceLabel, ns}, {kubelet::kPodNameLabel, pod}, {kubelet::kContainerNameLabel, container}};
  auto listed = cri->list_containers(filter);
  if (!listed) return status_response(503, "ServiceUnavailable", fmt::format("container runtime: {}", listed.error().message));
  auto containers = std::move(*listed);
  // Newest first: the current attempt, then the one it replaced.
  std::sort(containers.begin(), containers.end(), [](const auto& a, const auto& b) {
    return std::tie(a.metadata.attempt, a.created_at) > std::tie(b.metadata.attempt, b.created_at);
  });
  const bool previous = flag(query, "previous");
  if (previous && containers.size() < 2)
    return status_response(400, "BadRequest", fmt::format("previous terminated container \"{}\" in pod \"{}\" not found", container, pod));
  if (containers.empty())
    return status_response(400, "BadRequest",
                           fmt::format("container \"{}\" in pod \"{}\" is waiting to start: ContainerCreating", container, pod));
  const auto& chosen = containers[previous ? 1 : 0];
  auto status = cri->container_status(chosen.id);
  if (!status) return status_response(503, "ServiceUnavailable", fmt::format("container runtime: {}", status.error().message));

  LogOptions options;
  options.timestamps = flag(query, "timestamps");
  options.limit_bytes = integer(query, "limitBytes");
  if (auto since = integer(query, "sinceSeconds"))
    options.since_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count() -
                       *since * 1'000'000'000;
  if (auto since_time = http::query_value(query, "sinceTime"))
    if (auto at = parse_rfc3339_ns(*since_time)) options.since_ns = *at;
  auto formatter = std::make_shared<CriLogFormatter>(options);

  std::string content;
  const std::uint64_t end = read_from(status->log_path, 0, content);
  std::size_t from = 0;
  if (auto tail = integer(query, "tailLines")) from = tail_offset(content, *tail);
  std::string out;
  formatter->feed(std::string_view(content).substr(from), out);
  if (!flag(query, "follow") || formatter->limit_reached()) return http::Response{200, "text/plain", std::move(out)};

  http::Response r{200, "text/plain"};
  r.stream = [cri, id = chosen.id, file = status->log_path, end, formatter,
              out = std::move(out)](std::shared_ptr<http::ResponseStream> stream) mutable {
    if (!out.empty()) stream->write(std::move(out));
    follow(cri, id, file, end, formatter, std::move(stream));
  };
  return r;
}

}  // namespace switchyard::kubelet::server
