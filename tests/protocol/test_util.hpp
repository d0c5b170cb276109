// Helpers for driving an mcp_session in tests.
#pragma once

#include "protocol/mcp_session.hpp"

#include <gtest/gtest.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <string>
#include <vector>

namespace jobd::protocol::testing {

struct outcome {
  action act;
  std::vector<std::string> replies;
};

inline outcome feed(mcp_session& s, const std::string& line) {
  outcome out;
  out.act = s.handle_line(line, out.replies);
  return out;
}

inline rapidjson::Document parse(const std::string& text) {
  rapidjson::Document doc;
  doc.Parse(text.c_str(), text.size());
  EXPECT_FALSE(doc.HasParseError()) << text;
  return doc;
}

inline std::string to_json(const rapidjson::Value& v) {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  v.Accept(w);
  return std::string(sb.GetString(), sb.GetSize());
}

/// The single reply to `line`, parsed.
inline rapidjson::Document reply(mcp_session& s, const std::string& line) {
  auto out = feed(s, line);
  EXPECT_EQ(out.replies.size(), 1u) << line;
  if (out.replies.empty())
    return parse("null");
  return parse(out.replies[0]);
}

/// The error code of the single reply to `line`, or 0.
inline int error_code(mcp_session& s, const std::string& line) {
  auto doc = reply(s, line);
  if (!doc.IsObject() || !doc.HasMember("error"))
    return 0;
  return doc["error"]["code"].GetInt();
}

inline std::string tools_call(const std::string& name, const std::string& args,
                              const std::string& id = "1") {
  return R"({"jsonrpc":"2.0","id":)" + id
         + R"(,"method":"tools/call","params":{"name":")" + name
         + R"(","arguments":)" + args + "}}";
}

/// Runs a tools/call expected to be dispatched; returns its request.
inline tool_request dispatched(mcp_session& s, const std::string& name,
                               const std::string& args) {
  auto out = feed(s, tools_call(name, args));
  EXPECT_TRUE(out.replies.empty())
    << args << " -> " << (out.replies.empty() ? "" : out.replies[0]);
  auto call = std::get_if<dispatch_call>(&out.act);
  EXPECT_NE(call, nullptr) << args;
  return call ? call->request : tool_request{};
}

inline tool_request dispatched(const std::string& name,
                               const std::string& args) {
  mcp_session s;
  return dispatched(s, name, args);
}

/// Runs a tools/call expected to fail validation; returns the error message.
inline std::string rejected(mcp_session& s, const std::string& name,
                            const std::string& args,
                            std::string* field = nullptr) {
  auto out = feed(s, tools_call(name, args));
  EXPECT_TRUE(std::holds_alternative<std::monostate>(out.act)) << args;
  EXPECT_EQ(out.replies.size(), 1u) << args;
  if (out.replies.size() != 1)
    return {};
  auto doc = parse(out.replies[0]);
  auto& result = doc["result"];
  EXPECT_TRUE(result["isError"].GetBool());
  auto& sc = result["structuredContent"];
  EXPECT_FALSE(sc["success"].GetBool());
  EXPECT_STREQ(sc["code"].GetString(), "INVALID_ARGUMENTS");
  EXPECT_TRUE(sc["details"]["timestamp"].IsString());
  EXPECT_EQ(result["content"][0]["text"].GetString(), to_json(sc));
  if (field != nullptr)
    *field = sc["details"].HasMember("field")
               ? sc["details"]["field"].GetString()
               : "";
  return sc["error"].GetString();
}

inline std::string rejected(const std::string& name, const std::string& args,
                            std::string* field = nullptr) {
  mcp_session s;
  return rejected(s, name, args, field);
}

/// The tool most tests call.
inline const std::string t_exec = "console_execute_async";

/// The field named by the refusal of `args` for `tool` (and its message).
inline std::string refused_field(const std::string& tool,
                                 const std::string& args,
                                 std::string* message = nullptr) {
  std::string field;
  auto text = rejected(tool, args, &field);
  if (message != nullptr)
    *message = text;
  return field;
}

} // namespace jobd::protocol::testing
