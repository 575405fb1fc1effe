#include "kubelet/cri/cri_client.h"

#include <grpcpp/grpcpp.h>

#include <fmt/format.h>

#include "kubelet/cri/api.grpc.pb.h"
#include "kubelet/cri/cri_convert.h"

namespace switchyard::kubelet::cri {

namespace v1 = runtime::v1;

bool RuntimeStatus::condition(const std::string& type) const {
  for (const auto& c : conditions)
    if (c.type == type) return c.status;
  return false;
}

namespace {

ErrorCode to_error_code(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::NOT_FOUND:
      return ErrorCode::NotFound;
    case grpc::StatusCode::ALREADY_EXISTS:
      return ErrorCode::AlreadyExists;
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::FAILED_PRECONDITION:
      return ErrorCode::Invalid;
    case grpc::StatusCode::OUT_OF_RANGE:
      return ErrorCode::OutOfRange;
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return ErrorCode::Exhausted;
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::CANCELLED:
      return ErrorCode::Unavailable;
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return ErrorCode::Timeout;
    case grpc::StatusCode::UNAUTHENTICATED:
      return ErrorCode::Unauthorized;
    case grpc::StatusCode::PERMISSION_DENIED:
      return ErrorCode::Forbidden;
    case grpc::StatusCode::ABORTED:
      return ErrorCode::Conflict;
    default:  // UNKNOWN (containerd's plain errors), INTERNAL, UNIMPLEMENTED, DATA_LOSS
      return ErrorCode::Internal;
  }
}

// containerd answers UNKNOWN for many failures whose cause it only knows as text; a missing
// image is the one the kubelet acts on (ErrImagePull vs. a crash), so recognise it.
ErrorCode refine(ErrorCode code, const std::string& message) {
  if (code == ErrorCode::Internal && (message.find("not found") != std::string::npos)) return ErrorCode::NotFound;
  return code;
}

}  // namespace

struct CriClient::Impl {
  std::string endpoint;
  Options options;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::RuntimeService::Stub> runtime;
  std::unique_ptr<v1::ImageService::Stub> images;

  // Calls one unary RPC with a deadline; `what` names the call and its object in errors.
  template <class Request, class Response, class Stub>
  Result<Response> call(Stub& stub, grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Response*), const Request& request,
                        std::chrono::milliseconds timeout, std::string_view what) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + timeout);
    Response response;
    grpc::Status status = (stub.*method)(&context, request, &response);
    if (status.ok()) return response;
    ErrorCode code = refine(to_error_code(status.error_code()), status.error_message());
    return fail(code, fmt::format("CRI {} at {}: {}", what, endpoint,
                                  status.error_message().empty() ? std::string("gRPC code ") + std::to_string(status.error_code())
                                                                 : status.error_message()));
  }
};

CriClient::CriClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CriClient::~CriClient() = default;

Result<std::unique_ptr<CriClient>> CriClient::connect(const std::string& endpoint, Options options) {
  if (endpoint.empty()) return fail(ErrorCode::Invalid, "CRI endpoint is empty");
  std::string target = endpoint;
  if (target.starts_with("unix://"))
    target = "unix:" + target.substr(7);  // gRPC takes unix:/abs and unix:///abs
  else if (target.starts_with("/"))
    target = "unix:" + target;
  else if (!target.starts_with("unix:"))
    return fail(ErrorCode::Invalid, "CRI endpoint " + endpoint + ": only unix sockets are supported");
  auto impl = std::make_unique<Impl>();
  impl->endpoint = endpoint;
  impl->options = options;
  grpc::ChannelArguments args;
  // CRI answers can be large (ListContainers on a busy node; ExecSync output up to 16 MiB).
  args.SetMaxReceiveMessageSize(32 * 1024 * 1024);
  impl->channel = grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
  if (!impl->channel) return fail(ErrorCode::Internal, "CRI endpoint " + endpoint + ": could not create a gRPC channel");
  impl->runtime = v1::RuntimeService::NewStub(impl->channel);
  impl->images = v1::ImageService::NewStub(impl->channel);
  return std::unique_ptr<CriClient>(new CriClient(std::move(impl)));
}

const std::string& CriClient::endpoint() const { return impl_->endpoint; }

Result<VersionInfo> CriClient::version() {
  v1::VersionRequest request;
  request.set_version("v1");
  auto response = impl_->call(*impl_->runtime, &v1::RuntimeService::Stub::Version, request, impl_->options.timeout, "Version");
  if (!response) return fail(response.error());
  return from_proto(*response);
}

Result<RuntimeStatus> CriClient::status() {
  auto response = impl_->call(*impl_->runtime, &v1::RuntimeService::Stub::Status, v1::StatusRequest{}, impl_->options.timeout, "Status");
  if (!response) return fail(response.error());
  return from_proto(response->status());
}

Result<std::string> CriClient::run_pod_sandbox(const PodSandboxConfig& config, const std::string& runtime_handler) {
  v1::RunPodSandboxRequest request;
  to_proto(config, *request.mutable_config());
  request.set_runtime_handler(runtime_handler);
  auto response = impl_->call(*impl_->runtime, &v1::RuntimeService::Stub::RunPodSandbox, request, impl_->options.sandbox_timeout,
                              fmt::format("RunPodSandbox {}/{}", config.metadata.namespace_, config.metadata.name));
  if (!response) return fail(response.error());
  return response->pod_sandbox_id();
}

Result<> CriClient::stop_pod_sandbox(const std::string& sandbox_id) {
  v1::StopPodSandboxRequest request;
  request.set_pod_sandbox_id(sandbox_id);
  auto response = impl_->call(*impl_->runtime, &v1::RuntimeService::Stub::StopPodSandbox, request, impl_->options.sandbox_timeout,
                              "StopPodSandbox " + sandbox_id);
  if (!response) return fail(response.error());
  return {};
}

Result<> CriClient::remove_pod_sandbox(const std::string& sandbox_id) {
  v1::RemovePodSandboxRequest request;
  request.set_pod_sandbox_id(sandbox_id);
  auto response = impl_->call(*impl_->runtime, &v1::RuntimeService::Stub::RemovePodSandbox, request, impl_->options.sandbox_timeout,
                              "RemovePodSandbox " + sandbox_id);
  if (!response) return fail(response.error());
  return {};
}

Result<PodSandboxStatus> CriClient::pod_sandbox_status(const std::string& sandbox_id) {
  v1::PodSandboxStatusRequest request;
  request.set_pod_sandbox_id(sandbox_id);
  auto response = impl_->call(*impl_->runtime, &v1::RuntimeService::Stub::PodSandboxStatus, request, impl_->options.timeout,
                              "PodSandboxStatus " + sandbox_id);
  if (!response) return fail(response.error());
  return from_proto(response->status());
}

Result<std::vector<PodSandbox>> CriClient::list_pod_sandbox(const PodSandboxFilter& filter) {
  v1::ListPodSandboxRequest request;
  to_proto(filter, *request.mutable_filter());
  auto response =
      impl_->call(*impl_->runtime, &v1::RuntimeService::Stub::ListPodSandbox, request, impl_->options.timeout, "ListPodSandbox");
  if (!response) return fail(response.error());
  std::vector<PodSandbox> out;
  for (const auto& item : response->items()) out.push_back(from_proto(item));
  return out;
}

Result<std::string> CriClient::create_container(const std::string& sandbox_id, const ContainerConfig& config,
                                                const PodSandboxConfig& sandbox_config) {
  v1::CreateContainerRequest request;
  request.set_pod_sandbox_id(sandbox_id);
  to_proto(config, *request.mutable_config());
  to_proto(sandbox_config, *request.mutable_sandbox_config());
  auto response = impl_->call(*impl_->runtime, &v1::RuntimeService::Stub::CreateContainer, request, impl_->options.sandbox_timeout,
                              fmt::format("CreateContainer {} (image {}) in sandbox {}", config.metadata.name, config.image, sandbox_id));
  if (!response) return fail(response.error());
  return response->container_id();
}

Result<> CriClient::start_container(const std::string& container_id) {
  v1::StartContainerRequest request;
  request.set_container_id(container_id);
  auto response = impl_->call(*impl_->runtime, &v1::RuntimeService::Stub::StartContainer, request, impl_->options.sandbox_timeout,
                              "StartContainer " + container_id);
  if (!response) return fail(response.error());
  return {};
}

Result<> CriClient::stop_container(const std::string& container_id, std::chrono::seconds grace) {
  v1::StopContainerRequest request;
  request.set_container_id(container_id);
  request.set_timeout(grace.count());
  auto response = impl_->call(*impl_->runtime, &v1::RuntimeService::Stub::StopContainer, request, impl_->options.timeout + grace,
                              "StopContainer " + container_id);
  if (!response) return fail(response.error());
  return {};
}

Result<> CriClient::remove_container(const std::string& container_id) {
  v1::RemoveContainerRequest request;
  request.set_container_id(container_id);
  auto response = impl_->call(*impl_->runtime, &v1::RuntimeService::Stub::RemoveContainer, request, impl_->options.timeout,
                              "RemoveContainer " + container_id);
  if (!response) return fail(response.error());
  return {};
}

Result<std::vector<Container>> CriClient::list_containers(const ContainerFilter& filter) {
  v1::ListContainersRequest request;
  to_proto(filter, *request.mutable_filter());
  auto response =
      impl_->call(*impl_->runtime, &v1::RuntimeService::Stub::ListContainers, request, impl_->options.timeout, "ListContainers");
  if (!response) return fail(response.error());
  std::vector<Container> out;
  for (const auto& item : response->containers()) out.push_back(from_proto(item));
  return out;
}

Result<ContainerStatus> CriClient::container_status(const std::string& container_id) {
  v1::ContainerStatusRequest request;
  request.set_container_id(container_id);
  auto response = impl_->call(*impl_->runtime, &v1::RuntimeService::Stub::ContainerStatus, request, impl_->options.timeout,
                              "ContainerStatus " + container_id);
  if (!response) return fail(response.error());
  return from_proto(response->status());
}

Result<ExecSyncResult> CriClient::exec_sync(const std::string& container_id, const std::vector<std::string>& cmd,
                                            std::chrono::seconds timeout) {
  v1::ExecSyncRequest request;
  request.set_container_id(container_id);
  for (const auto& c : cmd) request.add_cmd(c);
  request.set_timeout(timeout.count());
  auto response = impl_->call(*impl_->runtime, &v1::RuntimeService::Stub::ExecSync, request, impl_->options.timeout + timeout,
                              fmt::format("ExecSync {} in {}", cmd.empty() ? std::string() : cmd.front(), container_id));
  if (!response) return fail(response.error());
  return ExecSyncResult{.stdout_ = response->stdout(), .stderr_ = response->stderr(), .exit_code = response->exit_code()};
}

Result<std::string> CriClient::exec(const StreamRequest& r) {
  v1::ExecRequest request;
  request.set_container_id(r.container_id);
  for (const auto& c : r.cmd) request.add_cmd(c);
  request.set_tty(r.tty);
  request.set_stdin(r.stdin);
  request.set_stdout(r.stdout_);
  request.set_stderr(r.stderr_);
  auto response =
      impl_->call(*impl_->runtime, &v1::RuntimeService::Stub::Exec, request, impl_->options.timeout, "Exec in " + r.container_id);
  if (!response) return fail(response.error());
  return response->url();
}

Result<std::string> CriClient::attach(const StreamRequest& r) {
  v1::AttachRequest request;
  request.set_container_id(r.container_id);
  request.set_tty(r.tty);
  request.set_stdin(r.stdin);
  request.set_stdout(r.stdout_);
  request.set_stderr(r.stderr_);
  auto response =
      impl_->call(*impl_->runtime, &v1::RuntimeService::Stub::Attach, request, impl_->options.timeout, "Attach to " + r.container_id);
  if (!response) return fail(response.error());
  return response->url();
}

Result<std::string> CriClient::port_forward(const std::string& sandbox_id, const std::vector<int32_t>& ports) {
  v1::PortForwardRequest request;
  request.set_pod_sandbox_id(sandbox_id);
  for (auto p : ports) request.add_port(p);
  auto response =
      impl_->call(*impl_->runtime, &v1::RuntimeService::Stub::PortForward, request, impl_->options.timeout, "PortForward to " + sandbox_id);
  if (!response) return fail(response.error());
  return response->url();
}

Result<std::vector<Image>> CriClient::list_images() {
  auto response =
      impl_->call(*impl_->images, &v1::ImageService::Stub::ListImages, v1::ListImagesRequest{}, impl_->options.timeout, "ListImages");
  if (!response) return fail(response.error());
  std::vector<Image> out;
  for (const auto& image : response->images()) out.push_back(from_proto(image));
  return out;
}

Result<std::optional<Image>> CriClient::image_status(const std::string& image) {
  v1::ImageStatusRequest request;
  request.mutable_image()->set_image(image);
  auto response =
      impl_->call(*impl_->images, &v1::ImageService::Stub::ImageStatus, request, impl_->options.timeout, "ImageStatus " + image);
  if (!response) return fail(response.error());
  if (!response->has_image()) return std::optional<Image>();
  return std::optional<Image>(from_proto(response->image()));
}

Result<std::string> CriClient::pull_image(const std::string& image) {
  v1::PullImageRequest request;
  request.mutable_image()->set_image(image);
  auto response =
      impl_->call(*impl_->images, &v1::ImageService::Stub::PullImage, request, impl_->options.pull_timeout, "PullImage " + image);
  if (!response) return fail(response.error());
  return response->image_ref();
}

Result<> CriClient::remove_image(const std::string& image) {
  v1::RemoveImageRequest request;
  request.mutable_image()->set_image(image);
  auto response =
      impl_->call(*impl_->images, &v1::ImageService::Stub::RemoveImage, request, impl_->options.timeout, "RemoveImage " + image);
  if (!response) return fail(response.error());
  return {};
}

}  // namespace switchyard::kubelet::cri
