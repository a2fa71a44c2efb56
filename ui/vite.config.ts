// Build and test configuration for the Gatehouse console front-end.
import { svelte } from "@sveltejs/vite-plugin-svelte";
import { svelteTesting } from "@testing-library/svelte/vite";
import { defineConfig } from "vitest/config";

export default defineConfig({
  plugins: [svelte(), svelteTesting()],
  // Tauri loads the bundle from its own scheme; relative paths work wherever dist/ is served from.
  base: "./",
  clearScreen: false,
  server: {
    // The Tauri dev runner expects a fixed port.
    port: 1420,
    strictPort: true,
  },
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // WebKitGTK / WKWebView / WebView2 of Tauri 2's supported platforms all run ES2022.
    target: "es2022",
    sourcemap: false,
  },
  test: {
    environment: "jsdom",
    include: ["src/**/*.test.ts"],
    setupFiles: ["src/test-setup.ts"],
    mockReset: true,
  },
});
