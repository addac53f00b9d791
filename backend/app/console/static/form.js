// The schedule form: as the user types, the server's description and next five fire times
// of the definition (POST /api/v1/schedules/preview); the API's reason beside the field it
// names; saving through the API.
"use strict";

(() => {
  const form = document.getElementById("schedule-form");
  if (!form) return;
  const value = (id) => document.getElementById(id)?.value.trim() ?? "";
  const kind = () => form.querySelector('input[name="schedule_type"]:checked').value;

  const cronForm = () => form.querySelector('input[name="cron_form"]:checked')?.value ?? "expression";
  const CRON_FIELDS = ["second", "minute", "hour", "day", "month", "day_of_week", "week", "year"];

  function showKind() {
    for (const part of form.querySelectorAll("[data-kind]")) {
      part.hidden = part.dataset.kind !== kind();
    }
    for (const part of form.querySelectorAll("[data-cron-form]")) {
      part.hidden = part.dataset.cronForm !== cronForm();
    }
  }

  function definition() {
    const config = {};
    if (kind() === "cron" && cronForm() === "expression") {
      config.cron_expression = value("cron_expression");
    } else if (kind() === "cron") {
      for (const field of CRON_FIELDS) {
        const given = value(`cron-${field}`);
        if (given !== "") config[field] = /^\d+$/.test(given) ? Number(given) : given;
      }
    } else if (kind() === "interval") {
      for (const unit of ["weeks", "days", "hours", "minutes", "seconds"]) {
        const given = value(`interval-${unit}`);
        if (given !== "") config[unit] = Number(given);
      }
    } else {
      config.run_date = value("run_date");
    }
    if (kind() !== "date") {
      if (value("start_date")) config.start_date = value("start_date");
      if (value("end_date")) config.end_date = value("end_date");
    }
    const metadata = JSON.parse(form.dataset.metadata || "{}");
    const number = (id) => (value(id) === "" ? undefined : Number(value(id)));
    metadata.misfire_grace_time = number("misfire_grace_time");
    metadata.max_instances = number("max_instances");
    metadata.coalesce = document.getElementById("coalesce").checked;
    return {
      schedule_type: kind(), schedule_config: config, timezone: value("timezone"), metadata,
    };
  }

  function clearErrors() {
    for (const slot of form.querySelectorAll("[data-error-for]")) slot.textContent = "";
    for (const input of form.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
    const top = document.getElementById("form-error");
    top.hidden = true;
    top.textContent = "";
  }

  function showErrors(result) {
    const error = result.data?.error;
    const top = document.getElementById("form-error");
    let placed = false;
    for (const detail of error?.details || []) {
      const field = detail.field.replace(/^body\./, "");
      const slot = form.querySelector(`[data-error-for="${CSS.escape(field)}"]`)
        || form.querySelector(`[data-error-for="${CSS.escape(field.split(".")[0])}"]`);
      if (slot) {
        slot.textContent = detail.reason;
        const input = document.querySelector(`[aria-describedby~="${slot.id}"]`);
        if (input) input.setAttribute("aria-invalid", "true");
        placed = true;
      }
    }
    if (!placed) {
      top.textContent = Console.errorMessage(result);
      top.hidden = false;
    }
  }

  const description = document.getElementById("preview-description");
  const times = document.getElementById("preview-times");
  let generation = 0;

  async function preview() {
    const mine = ++generation;
    const answer = await Console.api("POST", "/api/v1/schedules/preview", { ...definition(), count: 5 });
    if (mine !== generation) return; // a newer keystroke's answer wins
    clearErrors();
    times.replaceChildren();
    if (!answer.ok) {
      description.textContent = "Not valid yet.";
      showErrors(answer);
      return;
    }
    description.textContent = answer.data.schedule_description
      + (answer.data.never_fires_reason ? ` (never fires: ${answer.data.never_fires_reason})` : "");
    for (const fire of answer.data.fire_times) {
      const item = document.createElement("li");
      const local = document.createElement("span");
      local.textContent = `${fire.local.replace("T", " ")} (${answer.data.timezone})`;
      const mineTime = document.createElement("time");
      mineTime.setAttribute("datetime", fire.at);
      mineTime.setAttribute("data-viewer", "");
      item.append(local, " · yours: ", mineTime);
      times.append(item);
    }
    Console.showTimes(times);
  }

  let timer;
  function soon() {
    clearTimeout(timer);
    timer = setTimeout(preview, 250);
  }

  form.addEventListener("input", soon);
  form.addEventListener("change", () => { showKind(); soon(); });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = definition();
    body.name = value("name");
    if (form.dataset.method === "POST") {
      body.workflow_id = value("workflow_id");
    } else {
      delete body.schedule_type;
    }
    const answer = await Console.api(form.dataset.method, form.dataset.path, body);
    if (answer.ok) {
      location.assign(`/console/schedules/${answer.data.id}`);
      return;
    }
    clearErrors();
    showErrors(answer);
  });
  showKind();
  preview();
})();
