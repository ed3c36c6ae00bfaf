/**
 * The browser entry point: reads the state the server rendered into the
 * page, hydrates the app island over the server's HTML, and goes live.
 *
 * @module
 */
import { effect } from "@preact/signals";
import { hydrate } from "preact";
import { App, titleFor } from "./app.tsx";
import { createStore } from "./store.ts";
import type { Boot } from "./types.ts";

const boot: Boot = JSON.parse(document.getElementById("boot")!.textContent!);
const store = createStore(boot);
hydrate(<App store={store} boot={boot} />, document.getElementById("app")!);
const root = document.documentElement;

if (boot.user) {
  if (matchMedia("(min-width: 1100px)").matches) store.showMembers.value = true;
  effect(() => {
    document.title = titleFor(store.unreadTotal.value, store.current.value?.name);
  });
  // data-status tells tests (and CSS, if it wants) whether events are flowing.
  effect(() => {
    root.dataset.status = store.status.value;
    if (store.status.value === "live") root.dataset.live = "";
  });
  store.start();
} else {
  root.dataset.live = "";
}
