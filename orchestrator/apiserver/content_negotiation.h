// Which representation a client gets, from its Accept header, as kube-apiserver negotiates it:
// the first acceptable media type wins (ties broken by q), Tables only as JSON, protobuf only for
// kinds that have a protobuf form, and 406 when nothing the client accepts can be produced.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "orchestrator/apiserver/status.h"

namespace switchyard::apiserver {

enum class MediaType { Json, Table, Protobuf };

struct AcceptedTypes {
  std::vector<MediaType> in_order;  // what the client accepts that this server can produce, best first
  bool named_unservable = false;    // it also named types this server never produces (…;as=Table in protobuf, cbor)
  bool first_is(MediaType t) const { return !in_order.empty() && in_order.front() == t; }
};

AcceptedTypes parse_accept(std::string_view accept);

// The body of a (non-table) answer in the first accepted type that can carry it: JSON text or
// protobuf bytes, with its content type; 406 when none can.
struct EncodedBody {
  int code = 200;
  std::string content_type;
  std::string body;
};
EncodedBody encode_body(int code, const nlohmann::json& document, const AcceptedTypes& accepted);

ApiError not_acceptable();

}  // namespace switchyard::apiserver
