// The REST API over HTTP as any client sees it: Status objects for every kind of bad input,
// list paging and resourceVersion semantics, watch from a revision, 410 after compaction, and
// thousands of random requests that must not take the server down.
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

#include <random>

#include <regex>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "orchestrator/apiserver/http_server.h"
#include "orchestrator/store/sqlite_store.h"
#include "orchestrator/store/store_test_support.h"

namespace switchyard::apiserver {
namespace {

using ::testing::HasSubstr;

struct Reply {
  int code = 0;
  Json body;
  std::string raw;
};

// A raw HTTP/1.1 exchange on a fresh connection: the test controls every byte.
// `half_close`: shut down our side after the request (a watch reads that as the client leaving).
std::string exchange(int port, const std::string& request, int timeout_ms = 3000, bool half_close = true) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return "";
  }
  (void)!write(fd, request.data(), request.size());
  if (half_close) shutdown(fd, SHUT_WR);
  std::string out;
  char buf[8192];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<std::size_t>(n));
  close(fd);
  return out;
}

class HttpApi : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = store::SqliteStore::open((dir_.path() / "store.db").string());
    ASSERT_TRUE(s);
    store_ = std::move(*s);
    registry_ = std::make_unique<ObjectRegistry>(*store_, api::ClusterNetworkConfig{});
    handler_ = std::make_unique<ApiHandler>(*registry_, "s3cret");
    auto server = HttpServer::start(*handler_, {"127.0.0.1:0", "", ""});
    ASSERT_TRUE(server) << server.error();
    server_ = std::move(*server);
    ASSERT_EQ(call("POST", "/api/v1/namespaces", R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"shop"}})").code, 201);
  }

  Reply call(const std::string& method, const std::string& target, const std::string& body = "",
             const std::string& content_type = "application/json", bool auth = true) {
    std::string req = method + " " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n";
    if (auth) req += "Authorization: Bearer s3cret\r\n";
    if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH")
      req += "Content-Type: " + content_type + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
    req += "\r\n" + body;
    Reply r;
    r.raw = exchange(server_->port(), req);
    if (r.raw.size() > 12) r.code = std::atoi(r.raw.c_str() + 9);
    auto start = r.raw.find("\r\n\r\n");
    if (start != std::string::npos) r.body = Json::parse(r.raw.substr(start + 4), nullptr, false);
    return r;
  }
  std::string service(const std::string& name, const std::string& extra = "") {
    return R"({"apiVersion":"v1","kind":"Service","metadata":{"name":")" + name + R"("},"spec":{"ports":[{"port":80}])" + extra + "}}";
  }

  store::testing::TempDir dir_;
  std::unique_ptr<store::SqliteStore> store_;
  std::unique_ptr<ObjectRegistry> registry_;
  std::unique_ptr<ApiHandler> handler_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(HttpApi, UnauthenticatedRequestsGet401Status) {
  auto r = call("GET", "/api/v1/namespaces", "", "", false);
  EXPECT_EQ(r.code, 401);
  EXPECT_EQ(
      r.body,
      Json::parse(
          R"({"apiVersion":"v1","code":401,"kind":"Status","message":"Unauthorized","metadata":{},"reason":"Unauthorized","status":"Failure"})"));
  EXPECT_EQ(call("GET", "/healthz", "", "", false).code, 200);  // health needs no token
}

TEST_F(HttpApi, BadBodiesContentTypesAndSizes) {
  auto malformed = call("POST", "/api/v1/namespaces/shop/services", "{not json");
  EXPECT_EQ(malformed.code, 400);
  EXPECT_EQ(malformed.body["reason"], "BadRequest");
  auto wrong_type = call("POST", "/api/v1/namespaces/shop/services", service("a"), "text/plain");
  EXPECT_EQ(wrong_type.code, 415);
  EXPECT_EQ(wrong_type.body["reason"], "UnsupportedMediaType");
  auto wrong_patch = call("PATCH", "/api/v1/namespaces/shop/services/a", "{}", "application/xml");
  EXPECT_EQ(wrong_patch.code, 415);
  std::string big = service("big", R"(,"selector":{"k":")" + std::string(3 * 1024 * 1024 + 10, 'x') + R"("})");
  auto too_big = call("POST", "/api/v1/namespaces/shop/services", big);
  EXPECT_EQ(too_big.code, 413);
  EXPECT_EQ(too_big.body["reason"], "RequestEntityTooLarge");
  auto wrong_kind = call("POST", "/api/v1/namespaces/shop/services", R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"}})");
  EXPECT_EQ(wrong_kind.code, 400);
  EXPECT_THAT(wrong_kind.body["message"].get<std::string>(), HasSubstr("expected Service"));
  auto wrong_field_type = call("POST", "/api/v1/namespaces/shop/services",
                               R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"t"},"spec":{"ports":[{"port":"eighty"}]}})");
  EXPECT_EQ(wrong_field_type.code, 400);
  EXPECT_THAT(wrong_field_type.body["message"].get<std::string>(), HasSubstr("spec.ports[0].port: expected an integer"));
  // A field the server keeps without interpreting is typed all the same (as Go's decoding types it).
  auto wrong_kept_type = call("POST", "/api/v1/namespaces/shop/pods",
                              R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"i",
                                  "readinessProbe":{"periodSeconds":"5"}}]}})");
  EXPECT_EQ(wrong_kept_type.code, 400);
  EXPECT_THAT(wrong_kept_type.body["message"].get<std::string>(),
              HasSubstr("Pod in version \"v1\" cannot be handled as a Pod: spec.containers[0].readinessProbe.periodSeconds: expected an "
                        "integer, got string"));
}

TEST_F(HttpApi, InvalidNamesAndFieldsGet422WithCauses) {
  auto r = call("POST", "/api/v1/namespaces/shop/services", service("Bad_Name"));
  EXPECT_EQ(r.code, 422);
  EXPECT_EQ(r.body["reason"], "Invalid");
  EXPECT_EQ(r.body["details"]["kind"], "Service");
  EXPECT_EQ(r.body["details"]["causes"][0]["field"], "metadata.name");
  EXPECT_EQ(r.body["details"]["causes"][0]["reason"], "FieldValueInvalid");
  EXPECT_THAT(r.body["message"].get<std::string>(),
              HasSubstr("Service \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\""));
}

TEST_F(HttpApi, UnknownResourcesAndObjectsGet404) {
  EXPECT_EQ(call("GET", "/api/v1/deployments").code, 404);
  EXPECT_EQ(call("GET", "/apis/apps/v1/namespaces/shop/widgets").code, 404);  // apps/v1 is served, no such resource in it
  auto missing = call("GET", "/api/v1/namespaces/shop/services/nope");
  EXPECT_EQ(missing.code, 404);
  EXPECT_EQ(missing.body["message"], "services \"nope\" not found");
  EXPECT_EQ(missing.body["details"], Json::parse(R"({"kind":"services","name":"nope"})"));
  auto no_ns = call("POST", "/api/v1/namespaces/nowhere/services", service("a"));
  EXPECT_EQ(no_ns.code, 404);
  EXPECT_EQ(no_ns.body["message"], "namespaces \"nowhere\" not found");
}

TEST_F(HttpApi, AlreadyExistsAndConflictingResourceVersionsGet409) {
  ASSERT_EQ(call("POST", "/api/v1/namespaces/shop/services", service("a")).code, 201);
  auto again = call("POST", "/api/v1/namespaces/shop/services", service("a"));
  EXPECT_EQ(again.code, 409);
  EXPECT_EQ(again.body["reason"], "AlreadyExists");
  EXPECT_EQ(again.body["message"], "services \"a\" already exists");
  auto current = call("GET", "/api/v1/namespaces/shop/services/a").body;
  Json stale = current;
  stale["metadata"]["resourceVersion"] = "1";
  auto conflict = call("PUT", "/api/v1/namespaces/shop/services/a", stale.dump());
  EXPECT_EQ(conflict.code, 409);
  EXPECT_EQ(conflict.body["reason"], "Conflict");
  EXPECT_EQ(conflict.body["message"],
            "Operation cannot be fulfilled on services \"a\": the object has been modified; please apply your "
            "changes to the latest version and try again");
  current["metadata"]["labels"] = {{"x", "y"}};
  auto ok = call("PUT", "/api/v1/namespaces/shop/services/a", current.dump());
  EXPECT_EQ(ok.code, 200);
  EXPECT_NE(ok.body["metadata"]["resourceVersion"], current["metadata"]["resourceVersion"]);
}

TEST_F(HttpApi, ListPagesWithLimitAndContinue) {
  for (int i = 0; i < 7; ++i) ASSERT_EQ(call("POST", "/api/v1/namespaces/shop/services", service("s" + std::to_string(i))).code, 201);
  std::vector<std::string> names;
  std::string token;
  int pages = 0;
  do {
    auto page = call("GET", "/api/v1/namespaces/shop/services?limit=3" + (token.empty() ? "" : "&continue=" + token));
    ASSERT_EQ(page.code, 200);
    for (const auto& item : page.body["items"]) names.push_back(item["metadata"]["name"]);
    token = page.body["metadata"].value("continue", "");
    ++pages;
  } while (!token.empty() && pages < 10);
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(names, (std::vector<std::string>{"s0", "s1", "s2", "s3", "s4", "s5", "s6"}));
}

TEST_F(HttpApi, WatchFromARevisionAndExpiredAfterCompaction) {
  ASSERT_EQ(call("POST", "/api/v1/namespaces/shop/services", service("a")).code, 201);
  const std::string rv = call("GET", "/api/v1/namespaces/shop/services").body["metadata"]["resourceVersion"];
  ASSERT_EQ(call("POST", "/api/v1/namespaces/shop/services", service("b")).code, 201);
  ASSERT_EQ(call("DELETE", "/api/v1/namespaces/shop/services/a").code, 200);
  // A bounded watch from rv replays exactly what happened after it, one JSON event per line.
  auto w = call("GET", "/api/v1/namespaces/shop/services?watch=true&timeoutSeconds=1&resourceVersion=" + rv);
  EXPECT_EQ(w.code, 200);
  EXPECT_THAT(w.raw, HasSubstr("Transfer-Encoding: chunked"));
  EXPECT_THAT(w.raw, HasSubstr(R"({"object":{"apiVersion":"v1","kind":"Service","metadata":{"creationTimestamp")"));
  const auto added = w.raw.find(R"("type":"ADDED")");
  const auto deleted = w.raw.find(R"("type":"DELETED")");
  EXPECT_NE(added, std::string::npos);
  EXPECT_NE(deleted, std::string::npos);
  EXPECT_LT(added, deleted);
  // After compaction, an old revision is gone: 410 for a list, an ERROR event for a watch.
  ASSERT_TRUE(store_->compact(*store_->current_revision()));
  auto list = call("GET", "/api/v1/namespaces/shop/services?resourceVersion=" + rv);
  EXPECT_EQ(list.code, 410);
  EXPECT_EQ(list.body["reason"], "Expired");
  auto expired = call("GET", "/api/v1/namespaces/shop/services?watch=true&timeoutSeconds=1&resourceVersion=" + rv);
  EXPECT_THAT(expired.raw, HasSubstr(R"("type":"ERROR")"));
  EXPECT_THAT(expired.raw, HasSubstr(R"("code":410)"));
}

// The watch event lines in a raw chunked response, in order.
std::vector<std::string> event_lines(const std::string& raw) {
  std::vector<std::string> out;
  for (auto at = raw.find(R"({"object":)"); at != std::string::npos; at = raw.find(R"({"object":)", at + 1)) {
    const auto end = raw.find("}\n", at);
    if (end == std::string::npos) break;
    out.push_back(raw.substr(at, end + 1 - at));
    at = end;
  }
  return out;
}

// Watchers of one resource share each event's encoding: two plain watches get the same lines,
// each object carrying its own revision, and a selector's watch still sees an object leave it.
TEST_F(HttpApi, WatchersShareEncodingsAndSelectorsStillSeeTransitions) {
  ASSERT_EQ(call("POST", "/api/v1/namespaces/shop/services", service("a")).code, 201);
  const std::string rv = call("GET", "/api/v1/namespaces/shop/services").body["metadata"]["resourceVersion"];
  ASSERT_EQ(call("POST", "/api/v1/namespaces/shop/services",
                 R"({"apiVersion":"v1","kind":"Service","metadata":{"name":"b","labels":{"tier":"web"}},"spec":{"ports":[{"port":80}]}})")
                .code,
            201);
  ASSERT_EQ(
      call("PATCH", "/api/v1/namespaces/shop/services/b", R"({"metadata":{"labels":{"tier":"db"}}})", "application/merge-patch+json").code,
      200);
  ASSERT_EQ(call("DELETE", "/api/v1/namespaces/shop/services/a").code, 200);
  const std::string from = "/api/v1/namespaces/shop/services?watch=true&timeoutSeconds=1&resourceVersion=" + rv;
  std::string first, second;
  std::thread t([&] { first = call("GET", from).raw; });
  second = call("GET", from).raw;
  t.join();
  const auto lines = event_lines(first);
  ASSERT_EQ(lines.size(), 3u) << first;
  EXPECT_EQ(lines, event_lines(second));
  std::vector<std::string> seen;
  long last = std::stol(rv);
  for (const auto& line : lines) {
    const Json e = Json::parse(line);
    seen.push_back(e["type"].get<std::string>() + " " + e["object"]["metadata"]["name"].get<std::string>());
    const long version = std::stol(e["object"]["metadata"]["resourceVersion"].get<std::string>());
    EXPECT_GT(version, last) << line;
    last = version;
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"ADDED b", "MODIFIED b", "DELETED a"}));
  const auto web = event_lines(call("GET", from + "&labelSelector=tier%3Dweb").raw);
  ASSERT_EQ(web.size(), 2u);
  EXPECT_EQ(Json::parse(web[0])["type"], "ADDED");
  EXPECT_EQ(Json::parse(web[1])["type"], "DELETED");  // relabelled out of the selector
  EXPECT_EQ(Json::parse(web[1])["object"]["metadata"]["labels"]["tier"], "db");
  EXPECT_EQ(web[0], lines[0]);  // the same bytes as the plain watch's
}

// Many watchers with field selectors, as every node's kubelet has (spec.nodeName=NODE), share
// each event's selectable fields and previous state, and each still sees only its own objects
// and their transitions in and out of its selectors.
TEST_F(HttpApi, FieldSelectorWatchersEachSeeTheirOwnPodsAndTransitions) {
  ASSERT_EQ(call("POST", "/api/v1/namespaces/shop/serviceaccounts",
                 R"({"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"default"}})")
                .code,
            201);
  const std::string rv = call("GET", "/api/v1/pods").body["metadata"]["resourceVersion"];
  auto pod = [](const std::string& name, const std::string& node) {
    return R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":")" + name + R"(","labels":{"app":"web"}},"spec":{"nodeName":")" + node +
           R"(","containers":[{"name":"c","image":"i"}]}})";
  };
  ASSERT_EQ(call("POST", "/api/v1/namespaces/shop/pods", pod("p-a", "node-a")).code, 201);
  ASSERT_EQ(call("POST", "/api/v1/namespaces/shop/pods", pod("p-b", "node-b")).code, 201);
  ASSERT_EQ(
      call("PATCH", "/api/v1/namespaces/shop/pods/p-a/status", R"({"status":{"phase":"Running"}})", "application/merge-patch+json").code,
      200);
  ASSERT_EQ(
      call("PATCH", "/api/v1/namespaces/shop/pods/p-a", R"({"metadata":{"labels":{"app":"db"}}})", "application/merge-patch+json").code,
      200);
  const std::vector<std::string> selectors{"fieldSelector=spec.nodeName%3Dnode-a", "fieldSelector=spec.nodeName%3Dnode-b",
                                           "fieldSelector=spec.nodeName%3Dnode-a&labelSelector=app%3Dweb",
                                           "fieldSelector=status.phase%3DRunning"};
  std::vector<std::string> raw(selectors.size());
  std::vector<std::thread> watchers;
  for (std::size_t i = 0; i < selectors.size(); ++i)
    watchers.emplace_back(
        [&, i] { raw[i] = call("GET", "/api/v1/pods?watch=true&timeoutSeconds=1&resourceVersion=" + rv + "&" + selectors[i]).raw; });
  for (auto& t : watchers) t.join();
  auto seen = [&](std::size_t i) {
    std::vector<std::string> out;
    for (const auto& line : event_lines(raw[i])) {
      const Json e = Json::parse(line);
      out.push_back(e["type"].get<std::string>() + " " + e["object"]["metadata"]["name"].get<std::string>());
    }
    return out;
  };
  EXPECT_EQ(seen(0), (std::vector<std::string>{"ADDED p-a", "MODIFIED p-a", "MODIFIED p-a"})) << raw[0];
  EXPECT_EQ(seen(1), (std::vector<std::string>{"ADDED p-b"})) << raw[1];
  EXPECT_EQ(seen(2), (std::vector<std::string>{"ADDED p-a", "MODIFIED p-a", "DELETED p-a"})) << raw[2];  // relabelled out
  EXPECT_EQ(seen(3), (std::vector<std::string>{"ADDED p-a", "MODIFIED p-a"})) << raw[3];                 // Running: in from then on
}

// allowWatchBookmarks: a bookmark carries a resourceVersion the watch has really reached: not
// behind an event it already sent, and past changes elsewhere once they are through (so a client
// resuming from it after a quiet spell is not sent back before a compaction).
TEST_F(HttpApi, BookmarksFollowTheWatchsOwnProgress) {
  const std::string rv = call("GET", "/api/v1/namespaces/shop/services").body["metadata"]["resourceVersion"];
  Reply w;
  std::thread watcher([&] {
    w.raw = exchange(server_->port(),
                     "GET /api/v1/namespaces/shop/services?watch=true&allowWatchBookmarks=true&timeoutSeconds=2&resourceVersion=" + rv +
                         " HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer s3cret\r\n\r\n",
                     4000, false);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  auto created = call("POST", "/api/v1/namespaces/shop/services", service("a"));
  ASSERT_EQ(created.code, 201);
  const long long event_rv = std::stoll(created.body["metadata"]["resourceVersion"].get<std::string>());
  ASSERT_EQ(call("POST", "/api/v1/namespaces", R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"other"}})").code, 201);
  auto elsewhere = call("POST", "/api/v1/namespaces/other/services", service("b"));
  ASSERT_EQ(elsewhere.code, 201);
  const long long elsewhere_rv = std::stoll(elsewhere.body["metadata"]["resourceVersion"].get<std::string>());
  watcher.join();

  std::vector<long long> bookmarks;
  std::size_t added_at = std::string::npos;
  const std::regex bookmark(R"re("resourceVersion":"([0-9]+)"\}\},"type":"BOOKMARK")re");
  for (std::sregex_iterator it(w.raw.begin(), w.raw.end(), bookmark), end; it != end; ++it) bookmarks.push_back(std::stoll((*it)[1]));
  added_at = w.raw.find(R"("type":"ADDED")");
  ASSERT_NE(added_at, std::string::npos) << w.raw << " rv=" << rv << " event_rv=" << event_rv << " elsewhere_rv=" << elsewhere_rv;
  ASSERT_FALSE(bookmarks.empty()) << w.raw;
  SCOPED_TRACE(w.raw);
  EXPECT_LT(added_at, w.raw.find(R"("type":"BOOKMARK")"));
  EXPECT_GE(bookmarks.front(), event_rv);
  EXPECT_GE(bookmarks.front(), elsewhere_rv) << "the watch saw nothing after the service in namespace other, but got past it";
  EXPECT_THAT(w.raw, ::testing::Not(HasSubstr(R"("name":"b")")));
}

TEST_F(HttpApi, SendInitialEventsIsRefusedWith422) {
  auto r = call("GET", "/api/v1/namespaces/shop/services?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan");
  EXPECT_EQ(r.code, 422);
}

TEST_F(HttpApi, ThousandsOfRandomRequestsDoNotTakeTheServerDown) {
  std::mt19937 rng(42);
  const std::vector<std::string> methods = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "BREW", ""};
  const std::vector<std::string> paths = {"/api/v1/namespaces/shop/services",
                                          "/api/v1/namespaces/shop/services/a",
                                          "/apis",
                                          "/api/v1/namespaces",
                                          "/apis/discovery.k8s.io/v1/namespaces/shop/endpointslices/x",
                                          "/api/v1/namespaces/shop/services/a/status",
                                          "/%%%",
                                          "/api/v1/namespaces//services",
                                          "/openapi/v3/api/v1",
                                          "/api/v1/nodes?labelSelector=a%20in%20(",
                                          "/api/v1/pods?limit=-1&continue=zz"};
  const std::vector<std::string> types = {"application/json",
                                          "application/merge-patch+json",
                                          "application/json-patch+json",
                                          "application/strategic-merge-patch+json",
                                          "application/apply-patch+yaml",
                                          "application/yaml",
                                          ""};
  auto random_bytes = [&](std::size_t n) {
    std::string s;
    for (std::size_t i = 0; i < n; ++i) s += static_cast<char>(rng() % 256);
    return s;
  };
  const std::vector<std::string> bodies = {service("a"),
                                           "{}",
                                           "[]",
                                           "null",
                                           R"([{"op":"remove","path":"/spec"}])",
                                           R"({"metadata":{"name":null}})",
                                           R"({"spec":{"ports":[{"$patch":"delete"}]}})",
                                           "a: [b"};
  int answered = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string req;
    switch (rng() % 4) {
      case 0:
        req = random_bytes(rng() % 300);
        break;  // not HTTP at all
      case 1: {
        std::string body = bodies[rng() % bodies.size()];
        if (rng() % 3 == 0 && !body.empty()) body[rng() % body.size()] = static_cast<char>(rng() % 256);
        req = methods[rng() % methods.size()] + " " + paths[rng() % paths.size()] +
              " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
              "Authorization: Bearer s3cret\r\nContent-Type: " +
              types[rng() % types.size()] + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
        break;
      }
      case 2:
        req = "GET /api/v1/namespaces HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n";
        break;
      default:
        req = "POST /api/v1/namespaces/shop/services HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\nContent-Length: 5\r\n\r\nab";
        break;
    }
    const std::string reply = exchange(server_->port(), req, 500);
    if (reply.starts_with("HTTP/1.1 ")) ++answered;
  }
  // Everything that is HTTP, or close enough to be told it is not, gets an answer; only
  // requests cut short (their body never arrives) get none.
  EXPECT_GT(answered, 2000);
  // Still alive and still right (the random DELETEs may have removed "shop": make a new one).
  ASSERT_EQ(call("POST", "/api/v1/namespaces", R"({"apiVersion":"v1","kind":"Namespace","metadata":{"name":"after"}})").code, 201);
  auto r = call("GET", "/api/v1/namespaces/after");
  EXPECT_EQ(r.code, 200);
  EXPECT_EQ(r.body["metadata"]["name"], "after");
  EXPECT_EQ(call("GET", "/version").body["major"], "1");
}

}  // namespace
}  // namespace switchyard::apiserver
