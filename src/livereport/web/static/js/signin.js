// The sign-in form: email and password to POST /v1/signin, then on to where the user was going.

import { api } from "./api.js";
import { $ } from "./dom.js";

function nextPath() {
  const next = new URLSearchParams(location.search).get("next") || "";
  return next.startsWith("/") && !next.startsWith("//") && !next.includes("\\") ? next : "/campaigns";
}

const form = $("#signin-form");
const error = $("#signin-error");
const submit = $("#signin-submit");

// Sent here with ?email= (an invitation just accepted): the email is known, the password next.
const known = new URLSearchParams(location.search).get("email");
if (known) {
  $("#email").value = known;
  $("#password").focus();
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const email = $("#email").value.trim();
  const password = $("#password").value;
  if (!email || !password) {
    error.textContent = "Enter your email and your password.";
    return;
  }
  submit.disabled = true;
  error.textContent = "";
  try {
    await api("/v1/signin", { method: "POST", body: { email, password }, redirect: false });
    location.assign(nextPath());
  } catch (err) {
    error.textContent = err.status === 401 ? "That email and password do not match. Try again." : err.message;
    submit.disabled = false;
    $("#password").select();
  }
});
