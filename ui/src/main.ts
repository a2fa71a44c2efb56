// Entry point: mounts the console into the single window.
import { mount } from "svelte";
import App from "./App.svelte";
import "./app.css";

const target = document.getElementById("app");
if (!target) throw new Error("index.html must contain #app");

export default mount(App, { target });
