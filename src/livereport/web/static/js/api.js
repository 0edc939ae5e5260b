// The JSON API, as the page's session cookie sees it (the same API the command line uses).

const HEADERS = { "X-Requested-With": "livereport", Accept: "application/json" };

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export function signinUrl() {
  return "/signin?next=" + encodeURIComponent(location.pathname + location.search);
}

export function goToSignin() {
  location.assign(signinUrl());
}

/** Calls the API; a 401 sends the browser to the sign-in page unless `redirect` is false. */
export async function api(path, { method = "GET", body, redirect = true } = {}) {
  const init = { method, headers: { ...HEADERS }, credentials: "same-origin" };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    throw new ApiError(0, "the server cannot be reached; check your connection");
  }
  let data = null;
  try {
    data = await response.json();
  } catch (err) {
    data = null;
  }
  if (response.status === 401 && redirect) goToSignin();
  if (!response.ok) {
    throw new ApiError(response.status, (data && data.error) || `the server answered ${response.status}`);
  }
  return data;
}

export function campaignApi(campaign, what, params = {}) {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v) query.set(k, v);
  const qs = query.toString();
  return `/v1/campaigns/${encodeURIComponent(campaign)}/${what}${qs ? "?" + qs : ""}`;
}

export function campaignPage(campaign) {
  return `/campaigns/${encodeURIComponent(campaign)}`;
}
