import { describe, expect, it } from "vitest";
import { channelText, checkSubscription, lastDelivery, nextDue } from "./subscriptions";

const form = (over: Partial<Record<string, string>> = {}) => ({ view: "cpu", cadence: "monthly", format: "csv", channel: "email", url: "", ...over });

describe("the subscription form's rules", () => {
  it("makes the API's body, with no url for email", () => {
    expect(checkSubscription(form(), ["cpu"])).toEqual({ body: { view: "cpu", cadence: "monthly", format: "csv", channel: "email" } });
    expect(checkSubscription(form({ channel: "webhook", url: " https://hooks.example.org/x " }), ["cpu"])).toEqual({
      body: { view: "cpu", cadence: "monthly", format: "csv", channel: "webhook", url: "https://hooks.example.org/x" },
    });
  });
  it("says what is wrong with each field", () => {
    const got = checkSubscription(form({ view: "", cadence: "daily", format: "docx", channel: "fax" }), ["cpu"]);
    expect(Object.keys("errors" in got ? got.errors : {}).sort()).toEqual(["cadence", "channel", "format", "view"]);
    expect(checkSubscription(form({ view: "gone" }), ["cpu"])).toEqual({ errors: { view: "You have no saved view named “gone”." } });
  });
  it("wants a webhook URL of http(s), without spaces, at most 2000 characters", () => {
    const urlError = (url: string): string | undefined => {
      const got = checkSubscription(form({ channel: "webhook", url }), ["cpu"]);
      return "errors" in got ? got.errors.url : undefined;
    };
    expect(urlError("")).toMatch(/needs the URL/);
    expect(urlError("ftp://x")).toMatch(/http/);
    expect(urlError("https://a b")).toMatch(/without spaces/);
    // "https://h/" is 10 characters: 2001 in all is refused, 2000 taken.
    expect(urlError(`https://h/${"a".repeat(1991)}`)).toMatch(/2000/);
    expect(urlError(`https://h/${"a".repeat(1990)}`)).toBeUndefined();
  });
});

describe("deliveries", () => {
  it("is due at the next Monday or first of the month (UTC)", () => {
    // 2026-12-02 is a Wednesday; the next Monday is 2026-12-07.
    expect(nextDue("weekly", new Date("2026-12-02T23:30:00Z"))).toBe("2026-12-07");
    expect(nextDue("weekly", new Date("2026-12-07T00:00:00Z"))).toBe("2026-12-14");
    expect(nextDue("weekly", new Date("2026-12-06T12:00:00Z"))).toBe("2026-12-07");
    expect(nextDue("monthly", new Date("2026-12-31T23:59:00Z"))).toBe("2027-01-01");
    expect(nextDue("monthly", new Date("2026-02-01T00:00:00Z"))).toBe("2026-03-01");
  });
  it("says the newest delivery, or none", () => {
    expect(lastDelivery(undefined)).toBe("none yet");
    expect(lastDelivery([])).toBe("none yet");
    const d = { period: "2026-11", start: "", end: "", state: "given_up" as const, attempts: 5, detail: "", rows: null, at: "2026-12-01T06:05:09Z" };
    expect(lastDelivery([d, { ...d, period: "2026-10", state: "sent" }])).toBe("2026-11: given up (2026-12-01 06:05 UTC)");
    expect(channelText({ channel: "webhook", url: "https://h/x" })).toBe("webhook to https://h/x");
    expect(channelText({ channel: "email", url: null })).toBe("email to you");
  });
});
