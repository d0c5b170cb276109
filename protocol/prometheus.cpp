#include "protocol/prometheus.hpp"

// TODO(observability): the real thing.
namespace jobd::protocol {

struct latency_histograms::histogram {};

latency_histograms::latency_histograms(std::vector<std::string> tools)
  : names_(std::move(tools)) {
}

latency_histograms::~latency_histograms() = default;

void latency_histograms::observe(std::string_view, double) {
}

void latency_histograms::render(std::string&) const {
}

std::string render_prometheus(const metrics_snapshot&, const http_stats&,
                              const latency_histograms*) {
  return {};
}

} // namespace jobd::protocol
