// Runs one Beast/Asio asynchronous step to completion on a private io_context, so a blocking
// caller gets tcp_stream's timeouts (expires_after applies to asynchronous operations only).
#pragma once

#include <optional>
#include <utility>

#include <boost/asio/error.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/system/error_code.hpp>

namespace switchyard::store::etcd {

// `start(handler)` initiates an operation on an object bound to `ioc`; returns its error code,
// or operation_aborted if the context was left without the handler running.
template <class Start>
boost::system::error_code run_step(boost::asio::io_context& ioc, Start&& start) {
  std::optional<boost::system::error_code> result;
  std::forward<Start>(start)([&result](boost::system::error_code ec, auto&&...) { result = ec; });
  ioc.restart();
  ioc.run();
  return result.value_or(boost::asio::error::operation_aborted);
}

}  // namespace switchyard::store::etcd
