// The console's shared script: the API through the session cookie and the page's CSRF
// token, times in the viewer's zone, rows that refresh themselves, and in-place actions.
"use strict";

const Console = (() => {
  const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content ?? "";

  async function api(method, path, body) {
    const response = await fetch(path, {
      method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    let data = null;
    if (response.status !== 204) {
      try { data = await response.json(); } catch { data = null; }
    }
    return { ok: response.ok, status: response.status, data };
  }

  function errorMessage(result) {
    const error = result.data?.error;
    if (!error) return `Request failed (${result.status})`;
    const details = (error.details || []).map((d) => `${d.field}: ${d.reason}`).join("; ");
    return details ? `${error.message}: ${details}` : error.message;
  }

  const viewerFormat = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
    second: "2-digit", timeZoneName: "short",
  });

  function relative(moment) {
    const seconds = Math.round((moment.getTime() - Date.now()) / 1000);
    const size = Math.abs(seconds);
    let text;
    if (size < 60) text = `${size} s`;
    else if (size < 3600) text = `${Math.round(size / 60)} min`;
    else if (size < 86400) text = `${Math.round(size / 3600)} h`;
    else text = `${Math.round(size / 86400)} days`;
    return seconds >= 0 ? `in ${text}` : `${text} ago`;
  }

  function showTimes(root) {
    for (const element of root.querySelectorAll("time[datetime]")) {
      const moment = new Date(element.getAttribute("datetime"));
      if (Number.isNaN(moment.getTime())) continue;
      if (element.hasAttribute("data-relative-only")) {
        element.textContent = relative(moment);
      } else if (element.hasAttribute("data-relative")) {
        const zone = element.dataset.zone;
        let there = "";
        try {
          there = new Intl.DateTimeFormat(undefined, {
            month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
            second: "2-digit", timeZone: zone, timeZoneName: "short",
          }).format(moment);
        } catch { there = ""; }
        element.textContent = `${there} (yours: ${viewerFormat.format(moment)}), ${relative(moment)}`;
      } else if (element.hasAttribute("data-viewer")) {
        element.textContent = viewerFormat.format(moment);
      }
    }
    for (const element of root.querySelectorAll("[data-viewer-zone]")) {
      element.textContent = Intl.DateTimeFormat().resolvedOptions().timeZone;
    }
  }

  function refreshRows() {
    const body = document.querySelector("[data-refresh-url]");
    if (!body) return;
    setInterval(async () => {
      const response = await fetch(body.dataset.refreshUrl, {
        credentials: "same-origin", redirect: "manual",
      });
      if (response.status === 401 || response.type === "opaqueredirect") {
        location.reload(); // the session ended: the page leads to the sign-in form
        return;
      }
      if (!response.ok) return;
      const html = await response.text();
      const template = document.createElement("template");
      template.innerHTML = `<table><tbody>${html}</tbody></table>`;
      const rows = template.content.querySelector("tbody");
      body.replaceChildren(...rows.childNodes);
      showTimes(body);
    }, 5000);
  }

  function actions() {
    const result = document.getElementById("action-result");
    for (const button of document.querySelectorAll("[data-action]")) {
      button.addEventListener("click", async () => {
        let body;
        if (button.dataset.note) {
          const note = document.getElementById(button.dataset.note);
          if (!note.value.trim()) {
            result.textContent = "Pausing needs a note: say why.";
            result.hidden = false;
            note.setAttribute("aria-invalid", "true");
            note.focus();
            return;
          }
          body = { note: note.value.trim() };
        }
        button.disabled = true;
        const answer = await api(button.dataset.action, button.dataset.path, body);
        button.disabled = false;
        if (answer.ok) {
          location.reload();
          return;
        }
        result.textContent = errorMessage(answer);
        result.hidden = false;
      });
    }
  }

  function reloadWhileRunning() {
    if (document.querySelector("[data-reload-while-running]")) {
      setTimeout(() => location.reload(), 1500);
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    showTimes(document);
    refreshRows();
    actions();
    reloadWhileRunning();
  });

  return { api, errorMessage, showTimes };
})();
