import { Component, type ErrorInfo, type ReactNode } from 'react';

interface Props {
  /** Shown when a lazy page failed to load (offline, or a deploy removed its old chunk). */
  fallback: ReactNode;
  children: ReactNode;
}

export class PageLoadBoundary extends Component<Props, { failed: boolean }> {
  override state = { failed: false };

  static getDerivedStateFromError(): { failed: boolean } {
    return { failed: true };
  }

  override componentDidCatch(error: unknown, info: ErrorInfo): void {
    console.error('A page failed to load or render', error, info.componentStack);
  }

  override render(): ReactNode {
    return this.state.failed ? this.props.fallback : this.props.children;
  }
}
