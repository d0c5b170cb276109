// A thin RAII layer over the SQLite C API: a connection, prepared
// statements, and failures as exceptions that keep SQLite's (extended)
// result code, because the store tells a full disk from a corrupt file by
// it. No CAF.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

struct sqlite3;
struct sqlite3_stmt;

namespace jobd::sql {

/// A failed SQLite call: `code` is the extended result code.
class error : public std::runtime_error {
public:
  error(int code, const std::string& what);
  int code() const {
    return code_;
  }
  /// The primary result code (SQLITE_FULL, SQLITE_CORRUPT, ...).
  int primary() const {
    return code_ & 0xff;
  }

private:
  int code_;
};

class statement;

/// One connection. Not thread-safe: the STORE owns it.
class database {
public:
  database() = default;
  /// Opens (creating it with `create`) the file at `path`; ":memory:" is a
  /// private in-memory database. Throws sql::error.
  database(const std::string& path, bool create);
  ~database();
  database(database&& other) noexcept;
  database& operator=(database&& other) noexcept;
  database(const database&) = delete;
  database& operator=(const database&) = delete;

  /// Runs one or more statements without results. Throws sql::error.
  void exec(const char* sql);

  /// The single integer a query such as `PRAGMA user_version` returns.
  int64_t query_int(const char* sql);

  /// Rows changed by the last statement.
  int64_t changes() const;

  sqlite3* handle() const {
    return db_;
  }

  /// Throws sql::error for `rc` unless it is SQLITE_OK/ROW/DONE.
  void check(int rc) const;

private:
  sqlite3* db_ = nullptr;
};

/// A prepared statement, reset (bindings cleared) before each use.
class statement {
public:
  statement() = default;
  statement(database& db, const char* sql);
  ~statement();
  statement(statement&& other) noexcept;
  statement& operator=(statement&& other) noexcept;
  statement(const statement&) = delete;
  statement& operator=(const statement&) = delete;

  /// Resets the statement and clears its bindings; returns *this.
  statement& reset();

  // Parameters are 1-based, as in SQLite.
  statement& bind(int i, int64_t x);
  statement& bind(int i, std::string_view x);
  statement& bind_null(int i);

  /// Steps once: true while a row is available. Throws sql::error.
  bool step();
  /// Steps to the end (a statement without rows).
  void run();

  /// The first column of the first row (0 without one), then resets: a
  /// statement left on a row keeps its connection's read snapshot open,
  /// so it would not see other instances' commits (and could not write).
  int64_t single_int();

  int64_t int_at(int col) const;
  std::string text_at(int col) const;
  std::string_view view_at(int col) const;
  bool is_null(int col) const;

private:
  database* db_ = nullptr;
  sqlite3_stmt* stmt_ = nullptr;
};

/// BEGIN IMMEDIATE on construction, ROLLBACK on destruction unless
/// `commit()` was called.
class transaction {
public:
  explicit transaction(database& db);
  ~transaction();
  void commit();
  transaction(const transaction&) = delete;
  transaction& operator=(const transaction&) = delete;

private:
  database& db_;
  bool done_ = false;
};

} // namespace jobd::sql
