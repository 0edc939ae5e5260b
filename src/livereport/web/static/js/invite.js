// The invitation page: the link's fragment holds the token (browsers never send a fragment
// to the server), POST /v1/invites/check says what it is for or why it can no longer be
// used, POST /v1/invites/accept makes the account, and a sign-in with the chosen password
// opens the dashboard.

import { api } from "./api.js";
import { $ } from "./dom.js";
import { checkNewPassword } from "./passwords.js";

const ROLES = { admin: "an admin", editor: "an editor", viewer: "a viewer" };

const form = $("#invite-form");
const error = $("#invite-error");
const submit = $("#invite-submit");
const summary = $("#invite-summary");

function tokenOfLink() {
  let raw = location.hash.slice(1);
  try {
    raw = decodeURIComponent(raw);
  } catch (err) {
    // a malformed escape: use the fragment as it is; the server says it is unknown
  }
  return raw.replace(/^token=/, "").trim();
}

let token = tokenOfLink();

/** The invitation cannot be used: say why, and offer the sign-in instead of the form. */
function unusable(message) {
  $("#invite-problem-text").textContent = message;
  $("#invite-problem").hidden = false;
  form.hidden = true;
  summary.textContent = "This invitation cannot be used.";
}

function describe(invite) {
  summary.replaceChildren(
    "Join ", strong(invite.org), " as ", ROLES[invite.role] || invite.role,
    " with the email ", strong(invite.email), ". Choose a password to create your account.",
  );
  $("#email").value = invite.email;
  $("#email-field").hidden = false;
}

function strong(text) {
  const el = document.createElement("strong");
  el.textContent = text;
  return el;
}

function sentence(message) {
  return message.charAt(0).toUpperCase() + message.slice(1) + ".";
}

/** Whether the invitation can be accepted; a link's that cannot replaces the form, a typed
 * token's is said next to it so it can be corrected. */
async function check(given, typed) {
  try {
    describe(await api("/v1/invites/check", { method: "POST", body: { token: given }, redirect: false }));
    return true;
  } catch (err) {
    if (err.status === 404 && !typed) unusable(sentence(err.message));
    else error.textContent = sentence(err.message);
    return false;
  }
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.textContent = "";
  if (!token) {
    const typed = $("#token").value.trim();
    if (!typed.startsWith("inv_")) {
      error.textContent = "Enter the invitation token your admin gave you; it starts with inv_.";
      $("#token").focus();
      return;
    }
    if (!(await check(typed, true))) return;
    token = typed;
    $("#token-field").hidden = true;
  }
  const password = $("#new-password").value;
  const problem = checkNewPassword(password, $("#repeat-password").value);
  if (problem) {
    error.textContent = problem.message.replace("new password", "password");
    $(problem.field).focus();
    return;
  }
  submit.disabled = true;
  let account;
  try {
    account = await api("/v1/invites/accept", { method: "POST", body: { token, password }, redirect: false });
  } catch (err) {
    submit.disabled = false;
    if (err.status === 404) unusable(sentence(err.message));
    else error.textContent = sentence(err.message);
    return;
  }
  history.replaceState(null, "", "/invite");  // the used token leaves the address bar
  try {
    await api("/v1/signin", { method: "POST", body: { email: account.email, password }, redirect: false });
    location.assign("/campaigns");
  } catch (err) {
    location.assign("/signin?email=" + encodeURIComponent(account.email));
  }
});

if (token) check(token, false);
else {
  $("#token-field").hidden = false;
  summary.textContent = "Paste the invitation token your admin gave you, then choose a password.";
}
