#include "endpoints/node/service_port.h"

namespace switchyard::endpoints {

// The lists share their pool: a copy of a port copies pointers and indices, never endpoints.
static_assert(sizeof(Endpoint) <= 64, "an Endpoint is stored once per slice port: keep it small");

}  // namespace switchyard::endpoints
