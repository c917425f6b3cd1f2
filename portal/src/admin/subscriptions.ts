// Scheduled reports (/v1/me/subscriptions): the form's rules, as the API checks them
// (tally.subscriptions.model), so most refusals are said before the request; the API still decides.

export const CADENCES = ["weekly", "monthly"] as const;
export const FORMATS = ["csv", "xlsx", "pdf"] as const;
export const CHANNELS = ["email", "webhook"] as const;
export type Cadence = (typeof CADENCES)[number];
export type Format = (typeof FORMATS)[number];
export type Channel = (typeof CHANNELS)[number];
/** The longest webhook URL the API takes. */
export const MAX_URL = 2000;

export interface Delivery {
  period: string;
  start: string;
  end: string;
  state: "sent" | "failed" | "refused" | "given_up";
  attempts: number;
  detail: string;
  rows: number | null;
  at: string;
}

export interface Subscription {
  id: string;
  view: string;
  cadence: Cadence;
  format: Format;
  channel: Channel;
  url?: string | null;
  created_at: string;
  deliveries?: Delivery[];
}

export interface SubscriptionForm {
  view: string;
  cadence: string;
  format: string;
  channel: string;
  url: string;
}

export interface SubscriptionBody {
  view: string;
  cadence: Cadence;
  format: Format;
  channel: Channel;
  url?: string;
}

export const FORMAT_LABELS: Record<Format, string> = { csv: "CSV", xlsx: "Excel", pdf: "PDF" };

const isOne = <T extends string>(value: string, allowed: readonly T[]): value is T => (allowed as readonly string[]).includes(value);

/** The body to POST, or each field's refusal in words (keyed by field name). */
export function checkSubscription(form: SubscriptionForm, views: string[]): { body: SubscriptionBody } | { errors: Record<string, string> } {
  const errors: Record<string, string> = {};
  if (!form.view) errors.view = "Choose one of your saved views.";
  else if (!views.includes(form.view)) errors.view = `You have no saved view named “${form.view}”.`;
  if (!isOne(form.cadence, CADENCES)) errors.cadence = "The cadence is weekly or monthly.";
  if (!isOne(form.format, FORMATS)) errors.format = "The format is CSV, Excel or PDF.";
  if (!isOne(form.channel, CHANNELS)) errors.channel = "Delivery is by email or webhook.";
  const url = form.url.trim();
  if (form.channel === "webhook") {
    if (!url) errors.url = "A webhook needs the URL to post to.";
    else if (url.length > MAX_URL || /[\u0000-\u0020]/.test(url)) errors.url = `The URL is at most ${MAX_URL} characters, without spaces.`;
    else if (!/^https?:\/\//.test(url)) errors.url = "The URL starts with http:// or https://.";
  }
  if (Object.keys(errors).length) return { errors };
  const body: SubscriptionBody = { view: form.view, cadence: form.cadence as Cadence, format: form.format as Format, channel: form.channel as Channel };
  if (form.channel === "webhook") body.url = url;
  return { body };
}

/** When the next delivery falls due (UTC): the start of the next week (Monday) or month, the day the
 * current period ends and a scheduler run delivers it. */
export function nextDue(cadence: Cadence, now: Date): string {
  const y = now.getUTCFullYear();
  const m = now.getUTCMonth();
  const d = now.getUTCDate();
  if (cadence === "monthly") return new Date(Date.UTC(y, m + 1, 1)).toISOString().slice(0, 10);
  const weekday = (now.getUTCDay() + 6) % 7; // Monday 0
  return new Date(Date.UTC(y, m, d - weekday + 7)).toISOString().slice(0, 10);
}

/** The newest delivery in words ("never" when none was tried yet). */
export function lastDelivery(deliveries: Delivery[] | undefined): string {
  const newest = deliveries?.[0];
  if (!newest) return "none yet";
  const when = newest.at.slice(0, 16).replace("T", " ");
  const state = newest.state === "given_up" ? "given up" : newest.state;
  return `${newest.period}: ${state} (${when} UTC)`;
}

/** How it is delivered, in words. */
export function channelText(s: Pick<Subscription, "channel" | "url">): string {
  return s.channel === "webhook" ? `webhook to ${s.url ?? "?"}` : "email to you";
}
