#include <unistd.h>

#include "sharebox/api/download_cache.hpp"
#include "sharebox/api/handlers.hpp"
#include "sharebox/api/rate_limiter.hpp"
#include "sharebox/api/request_params.hpp"
#include "sharebox/domain/errors.hpp"
#include "sharebox/http/conditional.hpp"
#include "sharebox/http/offload.hpp"
#include "sharebox/http/ranges.hpp"
#include "sharebox/util/crypto.hpp"
#include "sharebox/util/encoding.hpp"

namespace sharebox::api {

namespace {

constexpr const char* default_content_type = "application/octet-stream";

// If-Match as a precondition checked inside the write transaction.
domain::precondition if_match_precondition(std::string_view header) {
  return [if_match = std::string(header)](const domain::file_record& f) {
    const std::string current = domain::etag_of(f);
    if (!http::etag_matches(if_match, current, false)) {
      throw domain::error(domain::errc::etag_mismatch,
                          "The file changed since you read it (current ETag " + current + ").",
                          {{"current_etag", current}});
    }
  };
}

std::optional<std::string_view> header_view(const http::request_header& req, bhttp::field f) {
  const auto it = req.find(f);
  if (it == req.end()) return std::nullopt;
  return it->value();
}

http::string_response file_response(bhttp::status status, const domain::file_view& v) {
  auto res = json_response(status, to_json(v));
  res.set(bhttp::field::etag, domain::etag_of(v.file));
  return res;
}

// Into a fresh header: insert, which appends, rather than set, which looks for a field to
// replace first.
void set_content_headers(bhttp::response_header<>& h, const download_cache::file_entry& e) {
  h.insert(bhttp::field::etag, e.etag);
  h.insert(bhttp::field::last_modified, e.last_modified);
  h.insert(bhttp::field::accept_ranges, "bytes");
  h.insert(bhttp::field::content_disposition, e.disposition);
  // Stored content is whatever users uploaded: never let a browser sniff or run it.
  h.insert("X-Content-Type-Options", "nosniff");
  h.insert("Content-Security-Policy", "sandbox");
  h.insert(bhttp::field::cache_control, "private, no-cache");
}

std::string content_range(const http::byte_range& r, std::uint64_t size) {
  return "bytes " + std::to_string(r.first) + "-" + std::to_string(r.last) + "/" +
         std::to_string(size);
}

}  // namespace

awaitable<void> post_file(request_context& ctx) {
  auto up = co_await receive_upload(ctx);
  if (!up.name) {
    co_await http::offload(ctx.svc.pool, [&] { ctx.svc.blobs.remove(up.blob.id); });
    throw http::api_error(bhttp::status::bad_request, "missing_name",
                          "Name the file: a multipart filename, or ?name= for a raw body.");
  }
  auto view = co_await http::offload(ctx.svc.pool, [&] {
    return ctx.svc.files.create(ctx.user, std::move(*up.name),
                                up.content_type.value_or(default_content_type), up.blob);
  });
  auto res = file_response(bhttp::status::created, view);
  res.set(bhttp::field::location, "/files/" + view.file.id);
  co_await ctx.io.send(std::move(res));
}

awaitable<void> list_files(request_context& ctx) {
  const std::size_t limit = limit_param(ctx.query, default_page_size);
  const auto cursor = page_cursor(ctx.query);
  auto page = co_await http::offload(ctx.svc.pool,
                                     [&] { return ctx.svc.files.list(ctx.user, cursor, limit); });
  nlohmann::json items = nlohmann::json::array();
  for (const auto& v : page.items)
    items.push_back(to_json(v, true));
  auto res = json_response(bhttp::status::ok, items);
  if (page.next_before_seq) {
    // An array body keeps `jq '.[0]'` working; the next page is a Link, as in RFC 8288.
    res.set(bhttp::field::link, "</files?limit=" + std::to_string(limit) + "&cursor=" +
                                    encode_page_cursor(*page.next_before_seq) + ">; rel=\"next\"");
  }
  co_await ctx.io.send(std::move(res));
}

awaitable<void> get_file(request_context& ctx) {
  const std::string& id = ctx.path.at("id");
  // Downloads are the hottest route. From memory when the download cache has the caller, the
  // file and its open content (no hand-off at all); otherwise caller, metadata and the open file
  // come from one hand-off and are left in the cache. (The tus and chunk routes serve a
  // finished upload through here, their caller already known.)
  auto& cache = ctx.svc.downloads;
  const bool known = !ctx.user.id.empty();
  const bool by_key = !known && ctx.credential.type == credential::kind::api_key &&
                      download_cache::cacheable_key(ctx.credential.secret);
  const auto at = cache.now();
  std::optional<domain::user> caller;
  std::string key_hash;
  if (known) {
    caller = ctx.user;
  } else if (at && by_key) {
    key_hash = download_cache::key_hash(ctx.credential.secret);
    caller = cache.user(*at, key_hash);
  }
  std::shared_ptr<const download_cache::file_entry> entry;
  if (at && caller) entry = cache.file(*at, caller->id, id);
  if (!entry) {
    const bool resolve = !caller;
    domain::user resolved = caller.value_or(domain::user{});
    auto [view, fd] = co_await http::offload(ctx.svc.read_pool, [&] {
      if (resolve) resolved = resolve_credential(ctx.svc, ctx.credential);
      return ctx.svc.files.open_content(resolved, id);
    });
    entry = std::make_shared<const download_cache::file_entry>(std::move(view), fd);
    // Only where the next request can find it: by a key's caller or a known one (browser
    // sessions and proxied callers are resolved on the pool each time).
    if (at && (by_key || known)) {
      if (resolve) cache.remember_user(*at, key_hash, resolved);
      cache.remember_file(*at, resolved.id, entry);
    }
    caller = std::move(resolved);
  }
  if (!known) {
    accept_caller(ctx, ctx.credential, std::move(*caller));
    if (ctx.svc.limiter.enabled()) {
      limit_rate(ctx, rate_bucket(ctx.credential, key_hash), ctx.user.id);
    }
  }
  const auto& f = entry->view.file;
  const int fd = entry->fd;
  const auto& req = ctx.io.request();
  const auto modified = entry->modified;
  const std::string& etag = entry->etag;

  http::conditions cond{header_view(req, bhttp::field::if_match),
                        header_view(req, bhttp::field::if_none_match),
                        header_view(req, bhttp::field::if_modified_since),
                        header_view(req, bhttp::field::if_unmodified_since)};
  switch (http::evaluate(cond, etag, modified, true)) {
    case http::precondition::not_modified: {
      http::string_response res{bhttp::status::not_modified, 11};
      res.set(bhttp::field::etag, etag);
      res.set(bhttp::field::last_modified, entry->last_modified);
      co_await ctx.io.send(std::move(res));
      co_return;
    }
    case http::precondition::failed:
      throw domain::error(domain::errc::etag_mismatch, "The file does not match If-Match.",
                          {{"current_etag", etag}});
    case http::precondition::proceed:
      break;
  }

  http::range_request ranges;
  if (const auto range = header_view(req, bhttp::field::range)) {
    const auto if_range = header_view(req, bhttp::field::if_range);
    if (!if_range || http::if_range_allows(*if_range, etag, modified)) {
      ranges = http::parse_range(*range, f.size);
    }
  }

  bhttp::response_header<> h;
  set_content_headers(h, *entry);
  std::vector<http::body_piece> pieces;
  switch (ranges.result) {
    case http::range_request::kind::unsatisfiable: {
      auto res =
          http::problem_response(http::problem{bhttp::status::range_not_satisfiable,
                                               "range_not_satisfiable",
                                               "The file has " + std::to_string(f.size) + " bytes.",
                                               {}});
      res.set(bhttp::field::content_range, "bytes */" + std::to_string(f.size));
      co_await ctx.io.send(std::move(res));
      co_return;
    }
    case http::range_request::kind::full:
      h.result(bhttp::status::ok);
      h.set(bhttp::field::content_type, f.content_type);
      h.set(bhttp::field::content_length, std::to_string(f.size));
      pieces.push_back({"", 0, f.size});
      break;
    case http::range_request::kind::partial:
      h.result(bhttp::status::partial_content);
      if (ranges.ranges.size() == 1) {
        const auto& r = ranges.ranges.front();
        h.set(bhttp::field::content_type, f.content_type);
        h.set(bhttp::field::content_range, content_range(r, f.size));
        h.set(bhttp::field::content_length, std::to_string(r.length()));
        pieces.push_back({"", r.first, r.length()});
      } else {
        const std::string boundary = "sharebox-" + util::new_id();
        std::uint64_t total = 0;
        for (const auto& r : ranges.ranges) {
          std::string head = (pieces.empty() ? "--" : "\r\n--") + boundary +
                             "\r\nContent-Type: " + f.content_type +
                             "\r\nContent-Range: " + content_range(r, f.size) + "\r\n\r\n";
          total += head.size() + r.length();
          pieces.push_back({std::move(head), r.first, r.length()});
        }
        std::string tail = "\r\n--" + boundary + "--\r\n";
        total += tail.size();
        pieces.push_back({std::move(tail), 0, 0});
        h.set(bhttp::field::content_type, "multipart/byteranges; boundary=" + boundary);
        h.set(bhttp::field::content_length, std::to_string(total));
      }
      break;
  }
  co_await ctx.io.send_file(std::move(h), fd, std::move(pieces));
}

awaitable<void> get_file_meta(request_context& ctx) {
  auto view = co_await http::offload(
      ctx.svc.pool, [&] { return ctx.svc.files.get(ctx.user, ctx.path.at("id")); });
  co_await ctx.io.send(file_response(bhttp::status::ok, view));
}

awaitable<void> put_file(request_context& ctx) {
  const std::string& id = ctx.path.at("id");
  const auto if_match = header_view(ctx.io.request(), bhttp::field::if_match);
  const domain::precondition pre =
      if_match ? if_match_precondition(*if_match) : [](const domain::file_record&) {
        throw domain::error(domain::errc::if_match_required,
                            "Replacing a file requires If-Match with its current ETag.");
      };
  // Every check that can fail without the body (404, 403, 428, 412) is made before reading it;
  // the replace repeats it inside its transaction.
  co_await http::offload(ctx.svc.pool, [&] { ctx.svc.files.check_replace(ctx.user, id, pre); });

  auto up = co_await receive_upload(ctx);
  auto view = co_await http::offload(ctx.svc.pool, [&] {
    return ctx.svc.files.replace(ctx.user, id, pre, up.blob, std::move(up.name),
                                 std::move(up.content_type));
  });
  co_await ctx.io.send(file_response(bhttp::status::ok, view));
}

awaitable<void> delete_file(request_context& ctx) {
  const auto if_match = header_view(ctx.io.request(), bhttp::field::if_match);
  auto pre = if_match ? if_match_precondition(*if_match) : domain::precondition{};
  co_await http::offload(ctx.svc.pool,
                         [&] { ctx.svc.files.remove(ctx.user, ctx.path.at("id"), pre); });
  http::string_response res{bhttp::status::no_content, 11};
  co_await ctx.io.send(std::move(res));
}

}  // namespace sharebox::api
