// What a request asks to do, in the terms authorization speaks: kube-apiserver's RequestInfo
// (k8s.io/apiserver/pkg/endpoints/request/requestinfo.go). GET of a collection is list (or
// watch with ?watch=), DELETE of a collection is deletecollection, /api/v1/watch/... is watch;
// paths outside /api and /apis are non-resource requests whose verb is the lowercase method.
#pragma once

#include <string>
#include <string_view>

namespace switchyard::apiserver {

struct RequestAttributes {
  std::string verb;  // get list watch create update patch delete deletecollection, impersonate, or e.g. "get" on a path
  bool resource_request = false;
  std::string api_group, api_version, resource, subresource, name, ns;
  std::string path;  // non-resource requests
};

RequestAttributes request_attributes(std::string_view method, std::string_view target);

// kube-apiserver's 403 text: `User "x" cannot list resource "pods" in API group "" in the
// namespace "y"` (responsewriters.forbiddenMessage), with ": reason" when there is one.
std::string forbidden_message(std::string_view user, const RequestAttributes& a, std::string_view reason = "");

}  // namespace switchyard::apiserver
