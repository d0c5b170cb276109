// JSON helpers shared by the protocol layer: a writer type, member lookup,
// strings (sanitised by protocol/utf8.hpp), timestamps (protocol/iso8601.hpp)
// and signal names.
#pragma once

#include "protocol/iso8601.hpp"
#include "protocol/model.hpp"
#include "protocol/utf8.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace jobd::protocol {

using json_writer = rapidjson::Writer<rapidjson::StringBuffer>;

/// A string value or key; invalid UTF-8 becomes U+FFFD.
void write_string(json_writer& w, std::string_view text);

inline void write_key(json_writer& w, std::string_view key) {
  w.Key(key.data(), static_cast<rapidjson::SizeType>(key.size()));
}

/// A JSON text that is known to be valid, copied verbatim.
inline void write_raw(json_writer& w, std::string_view json) {
  w.RawValue(json.data(), json.size(), rapidjson::kObjectType);
}

/// An ISO-8601 timestamp, or null for 0 (and anything before the epoch).
void write_timestamp(json_writer& w, timestamp_ms ts);

/// A double; null for NaN and infinities (JSON has no such numbers).
void write_double(json_writer& w, double x);

/// "SIGTERM" for 15 and so on, "SIG<n>" for numbers not in the table.
std::string signal_name(int32_t sig);

/// Truncates `text` to at most `max` bytes at a UTF-8 boundary, adding "...".
std::string shorten(std::string_view text, size_t max);

/// The text of a JSON string value.
inline std::string_view str(const rapidjson::Value& v) {
  return {v.GetString(), v.GetStringLength()};
}

/// The member `name` of `obj`, or null if `obj` is no object or lacks it.
inline const rapidjson::Value* member(const rapidjson::Value* obj,
                                      const char* name) {
  if (obj == nullptr || !obj->IsObject())
    return nullptr;
  auto i = obj->FindMember(name);
  return i == obj->MemberEnd() ? nullptr : &i->value;
}

inline const rapidjson::Value* member(const rapidjson::Value& obj,
                                      const char* name) {
  return member(&obj, name);
}

inline std::string_view view(const rapidjson::StringBuffer& buf) {
  return {buf.GetString(), buf.GetSize()};
}

} // namespace jobd::protocol
