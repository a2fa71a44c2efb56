import { createRawSnippet } from "svelte";
import { fireEvent, render, screen } from "@testing-library/svelte";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";

import HoldButton from "./HoldButton.svelte";

const label = createRawSnippet(() => ({ render: () => "<span>Pause everything</span>" }));

function show(disabled = false) {
  const onconfirm = vi.fn();
  const onkeyboard = vi.fn();
  render(HoldButton, { props: { holdMs: 1500, onconfirm, onkeyboard, disabled, testid: "hold", children: label } });
  return { onconfirm, onkeyboard, button: screen.getByTestId("hold") };
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("hold to confirm", () => {
  it("does nothing when let go before 1.5 s, and says so", async () => {
    const { onconfirm, onkeyboard, button } = show();
    await fireEvent.pointerDown(button, { button: 0, pointerId: 1 });
    await vi.advanceTimersByTimeAsync(1400);
    await fireEvent.pointerUp(button, { button: 0, pointerId: 1 });
    await vi.advanceTimersByTimeAsync(5000);
    expect(onconfirm).not.toHaveBeenCalled();
    expect(onkeyboard).not.toHaveBeenCalled();
    expect(screen.getByTestId("hold-how")).toHaveTextContent("Let go too early: nothing happened. Hold for 1.5 s.");
  });

  it("does nothing when the pointer slides off or is interrupted", async () => {
    const { onconfirm, button } = show();
    await fireEvent.pointerDown(button, { button: 0, pointerId: 1 });
    await vi.advanceTimersByTimeAsync(700);
    await fireEvent.pointerCancel(button, { pointerId: 1 });
    await fireEvent(button, new Event("lostpointercapture"));
    await vi.advanceTimersByTimeAsync(5000);
    expect(onconfirm).not.toHaveBeenCalled();
  });

  it("confirms once after a 1.5 s hold", async () => {
    const { onconfirm, button } = show();
    await fireEvent.pointerDown(button, { button: 0, pointerId: 1 });
    await vi.advanceTimersByTimeAsync(1499);
    expect(onconfirm).not.toHaveBeenCalled();
    await vi.advanceTimersByTimeAsync(1);
    expect(onconfirm).toHaveBeenCalledOnce();
    await fireEvent.pointerUp(button, { button: 0, pointerId: 1 });
    expect(onconfirm, "letting go afterwards changes nothing").toHaveBeenCalledOnce();
    expect(screen.getByTestId("hold-how")).not.toHaveTextContent("too early");
  });

  it("ignores the other pointer buttons", async () => {
    const right = show();
    await fireEvent.pointerDown(right.button, { button: 2, pointerId: 1 });
    await vi.advanceTimersByTimeAsync(2000);
    expect(right.onconfirm).not.toHaveBeenCalled();
  });

  it("asks for a typed confirmation from the keyboard instead of acting", async () => {
    const { onconfirm, onkeyboard, button } = show();
    await fireEvent.keyDown(button, { key: "Enter" });
    await fireEvent.keyDown(button, { key: " " });
    await fireEvent.keyDown(button, { key: "a" });
    expect(onkeyboard).toHaveBeenCalledTimes(2);
    expect(onconfirm).not.toHaveBeenCalled();
  });

  it("does nothing at all while disabled", async () => {
    const { onconfirm, onkeyboard, button } = show(true);
    await fireEvent.pointerDown(button, { button: 0, pointerId: 1 });
    await fireEvent.keyDown(button, { key: "Enter" });
    await vi.advanceTimersByTimeAsync(2000);
    expect(onconfirm).not.toHaveBeenCalled();
    expect(onkeyboard).not.toHaveBeenCalled();
  });
});
