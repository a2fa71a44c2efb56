// Vitest setup: DOM matchers for every test file.
import "@testing-library/jest-dom/vitest";
