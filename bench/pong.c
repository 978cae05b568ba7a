/* pong - the program every "-e" server runs per connection: wait for the
 * client's request (one read), answer "pong\n", exit. Built static. */
#include <unistd.h>

int main(void)
{
	char b[512];
	if (read(0, b, sizeof(b)) < 0)
		return 1;
	return write(1, "pong\n", 5) != 5;
}
