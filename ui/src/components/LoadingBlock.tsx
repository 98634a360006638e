import { Center, Loader } from "@mantine/core";

export function LoadingBlock({ label = "Loading" }: { label?: string }) {
  return (
    <Center py={48}>
      <Loader aria-label={label} />
    </Center>
  );
}
