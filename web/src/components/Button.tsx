import { Slot } from '@radix-ui/react-slot';
import { clsx } from 'clsx';
import { forwardRef, type ButtonHTMLAttributes } from 'react';

interface ButtonProps extends ButtonHTMLAttributes<HTMLButtonElement> {
  variant?: 'primary' | 'secondary';
  /** Renders the child (a router `<Link>`, an `<a>`) with the button's look instead of a <button>. */
  asChild?: boolean;
}

export const Button = forwardRef<HTMLButtonElement, ButtonProps>(function Button(
  { variant = 'primary', asChild = false, className, type, ...props },
  ref,
) {
  const classes = clsx('button', `button--${variant}`, className);
  if (asChild) return <Slot ref={ref} className={classes} {...props} />;
  // `type="button"` unless asked: a bare <button> inside a form would submit it.
  return <button ref={ref} type={type ?? 'button'} className={classes} {...props} />;
});
