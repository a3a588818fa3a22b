import { describe, expect, it } from "vitest";
import { directBlocker } from "./direct-when";

describe("directBlocker (when only git fetch makes the request git would)", () => {
  it("allows a plain environment and a config with no connection settings", () => {
    expect(
      directBlocker({ PATH: "/usr/bin", HOME: "/home/u", GIT_HTTP_LOW_SPEED_TIME: "30" }, ""),
    ).toBeUndefined();
    expect(directBlocker({ NO_PROXY: "localhost" }, "\n")).toBeUndefined();
  });

  it("leaves the run to git under a proxy or TLS variable, in either case, unless empty", () => {
    expect(directBlocker({ HTTPS_PROXY: "http://proxy:3128" }, "")).toBe("HTTPS_PROXY is set");
    expect(directBlocker({ http_proxy: "http://proxy:3128" }, "")).toBe("http_proxy is set");
    expect(directBlocker({ all_proxy: "socks5://p" }, "")).toBe("all_proxy is set");
    expect(directBlocker({ GIT_SSL_CAINFO: "/etc/ca.pem" }, "")).toBe("GIT_SSL_CAINFO is set");
    expect(directBlocker({ GIT_SSL_NO_VERIFY: "1" }, "")).toBe("GIT_SSL_NO_VERIFY is set");
    expect(directBlocker({ GIT_PROXY_COMMAND: "x" }, "")).toBe("GIT_PROXY_COMMAND is set");
    expect(directBlocker({ HTTPS_PROXY: "" }, "")).toBeUndefined();
  });

  it("leaves the run to git when the user's git config sets any http.* or url.* key", () => {
    expect(directBlocker({}, "http.sslcainfo /etc/corp-ca.pem\n")).toBe("git config sets http.sslcainfo");
    expect(directBlocker({}, "url.git@host:.insteadof https://host/\n")).toBe(
      "git config sets url.git@host:.insteadof",
    );
  });
});
