// The table of jobd's settings (app/config.cpp), shared by the files that
// declare them: one setting is a flag, an environment variable, a parser and
// a range.
#pragma once

#include "app/config.hpp"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace jobd::settings_detail {

/// One setting: its flag, environment variable, meaning, parser and (for
/// numbers) its range as text.
struct setting {
  const char* flag;
  const char* env;
  const char* help;
  std::function<bool(config&, const std::string&)> set;
  std::function<std::string(const config&)> show;
  std::string range;
  /// A switch: takes no value (its variable: any non-empty value but "0").
  bool boolean = false;
  /// A repeatable setting: its variable lists values split at this.
  char separator = 0;
};

/// Parses a decimal integer within [min, max].
bool parse_int(const std::string& text, int64_t min, int64_t max, int64_t& out);

/// A number stored in `field`, in [min, max].
template <class T>
inline setting number(const char* flag, const char* env, const char* help,
                      T config::*field, int64_t min,
                      int64_t max = max_setting) {
  return {flag,
          env,
          help,
          [=](config& c, const std::string& text) {
            int64_t x = 0;
            if (!parse_int(text, min, max, x))
              return false;
            c.*field = static_cast<T>(x);
            return true;
          },
          [=](const config& c) { return std::to_string(c.*field); },
          std::to_string(min) + " to " + std::to_string(max)};
}

/// A repeatable setting: each flag adds one value; its variable holds
/// several, split at `separator`.
setting list(const char* flag, const char* env, const char* help,
             std::vector<std::string> config::*field, char separator,
             const char* what);

/// A switch (no value) that sets `field`.
setting flag_switch(const char* flag, const char* env, const char* help,
                    bool config::*field);

/// The security, quota and audit settings (app/config_security.cpp).
std::vector<setting> security_settings();

/// The HTTP service's settings (app/config_http.cpp).
std::vector<setting> http_settings();

/// The slurm kind's settings (app/config_slurm.cpp).
std::vector<setting> slurm_settings_table();

/// Rules between the HTTP settings, once all are read.
bool http_consistent(const config& c, std::string& message);

} // namespace jobd::settings_detail
