// Warns before an idle logout (WCAG 2.2.1 "Timing Adjustable"): reads the
// layer's session status, shows a notice two minutes before the idle
// deadline with a button that extends it, and says so once it has passed.
// Reading the status does not extend the login; the button (a POST) does.
//
// The texts come from the box's data- attributes, written by the page in its
// own language. The notice is built once per state and only the countdown
// changes each second: rebuilding it would re-announce the alert every
// second and swap the button out from under a click.
(() => {
  const STATUS = "/auth/bankid/session";
  const WARN_SECS = 120;
  const box = document.getElementById("session-warning");
  if (!box) return;
  const text = box.dataset;
  let wasLoggedIn = false;
  let deadline = null;
  let shown = null; // "warning", "logged-out" or null: what the box holds
  let countdown = null;

  /** Shows `state`, building its content (`build()`) only when it changes. */
  function show(state, build) {
    if (shown !== state) {
      box.replaceChildren(...build());
      shown = state;
    }
    box.hidden = false;
  }

  function hide() {
    box.hidden = true;
    box.replaceChildren();
    shown = null;
  }

  function warning() {
    const [before, after = ""] = text.warning.split("{time}");
    countdown = document.createElement("span");
    // Announced once with the notice, not at every tick.
    countdown.setAttribute("aria-live", "off");
    const line = document.createElement("p");
    line.append(before, countdown, after);
    const button = document.createElement("button");
    button.type = "button";
    button.id = "stay-logged-in";
    button.textContent = text.stay;
    button.addEventListener("click", () => poll("POST"));
    return [line, button];
  }

  function loggedOut() {
    const again = document.createElement("a");
    again.href = "/";
    again.textContent = text.logInAgain;
    const line = document.createElement("p");
    line.append(text.loggedOut + " ", again);
    return [line];
  }

  function render() {
    if (deadline === null) return hide();
    const left = Math.round(deadline - Date.now() / 1000);
    if (left > WARN_SECS) return hide();
    if (left <= 0) return show("logged-out", loggedOut);
    show("warning", warning);
    countdown.textContent = `${Math.floor(left / 60)}:${String(left % 60).padStart(2, "0")}`;
  }

  async function read(method) {
    const response = await fetch(STATUS, { method, credentials: "same-origin", headers: { accept: "application/json" } });
    return response.ok ? response.json() : null;
  }

  async function poll(method = "GET") {
    const status = await read(method).catch(() => null);
    if (!status) return;
    if (status.logged_in) {
      wasLoggedIn = true;
      deadline = status.idle_expires_at;
    } else if (wasLoggedIn) {
      deadline = 0;
    }
    render();
  }

  poll();
  setInterval(poll, 15000);
  setInterval(render, 1000);
})();
